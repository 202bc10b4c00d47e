"""CDK constructs and the stack for glacierable (the runtime code lives in lambda_src/)."""
