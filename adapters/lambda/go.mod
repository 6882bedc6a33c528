module github.com/tollgate-go/tollgate/adapters/lambda

go 1.24.0

require (
	github.com/aws/aws-lambda-go v1.54.0
	github.com/tollgate-go/tollgate v0.0.0
)

replace github.com/tollgate-go/tollgate => ../..
