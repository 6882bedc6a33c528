module github.com/tollgate-go/tollgate/examples

go 1.24.0

require github.com/tollgate-go/tollgate v0.0.0

replace github.com/tollgate-go/tollgate => ../
