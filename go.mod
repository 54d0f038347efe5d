module github.com/evio-go/evio

go 1.20

require golang.org/x/sys v0.30.0
