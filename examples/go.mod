module github.com/evio-go/evio/examples

go 1.20

require (
	github.com/evio-go/evio v0.0.0
	github.com/redis/go-redis/v9 v9.16.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	golang.org/x/sys v0.30.0 // indirect
)

// The examples build against the library in this repository.
replace github.com/evio-go/evio => ../
