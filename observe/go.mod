module github.com/tollgate-go/tollgate/observe

go 1.24.0

replace github.com/tollgate-go/tollgate => ../

require github.com/tollgate-go/tollgate v0.0.0
