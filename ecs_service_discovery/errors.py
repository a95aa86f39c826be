"""The one exception type the library raises for a user's mistake."""

from __future__ import annotations


class ValidationError(ValueError):
    """A public parameter has a value the library cannot accept.

    Raised at construction, before any CloudFormation exists. The message names
    the parameter, the value given and what is allowed, so that ``cdk synth``
    ends with that sentence instead of a jsii or Node.js stack trace.

    Attribute: ``construct_path``, the path of the construct being made or called when the
    mistake was found (as aws-cdk-lib's own ``ValidationError`` keeps its construct's path), or
    ``None``. Not part of the message, which stays the one sentence users and tests read.
    """

    def __init__(self, message: str, *, construct_path: str | None = None) -> None:
        super().__init__(message)
        self.construct_path: str | None = None
        if construct_path is not None:
            self.at(construct_path)

    def at(self, construct_path: str) -> ValidationError:
        """Record the construct the mistake belongs to (once: the innermost construct wins)."""
        if self.construct_path is None:
            self.construct_path = construct_path
        return self
