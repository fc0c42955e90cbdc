module github.com/authcapture/authcapture/internal/currencytest

go 1.25.0

replace github.com/authcapture/authcapture => ../..

require (
	github.com/authcapture/authcapture v0.0.0-00010101000000-000000000000
	github.com/bojanz/currency v1.4.2
)

require (
	github.com/cockroachdb/apd/v3 v3.2.1 // indirect
	github.com/shopspring/decimal v1.6.0 // indirect
)
