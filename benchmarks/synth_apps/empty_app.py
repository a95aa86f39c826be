"""The floor: a CDK app with one empty stack.

What every CDK app pays before it defines anything: starting Python, loading aws-cdk-lib
(and with it the jsii Node.js runtime) and synthesizing one template.
"""

import aws_cdk as cdk

app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
