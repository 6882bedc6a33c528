module github.com/tollgate-go/tollgate/adapters/echo

go 1.24.0

require (
	github.com/labstack/echo/v4 v4.15.1
	github.com/tollgate-go/tollgate v0.0.0
	golang.org/x/time v0.14.0
)

require (
	github.com/labstack/gommon v0.4.2 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	golang.org/x/crypto v0.46.0 // indirect
	golang.org/x/net v0.48.0 // indirect
	golang.org/x/sys v0.41.0 // indirect
	golang.org/x/text v0.32.0 // indirect
)

replace github.com/tollgate-go/tollgate => ../..
