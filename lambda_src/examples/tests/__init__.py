"""Tests of the example handlers, written as a team would test its own (lambda_src/README.md,
"Testing your handler"). Not packaged into the Lambda zip."""
