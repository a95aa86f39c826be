"""The one exception type the library raises for a user's mistake."""


class ValidationError(ValueError):
    """A public parameter has a value the library cannot accept.

    Raised at construction, before any CloudFormation exists. The message names
    the parameter, the value given and what is allowed, so that ``cdk synth``
    ends with that sentence instead of a jsii or Node.js stack trace.
    """
