module github.com/smsconvo/convo

go 1.24

require (
	github.com/stretchr/testify v1.12.1
	github.com/twilio/twilio-go v1.31.0
)

require (
	github.com/beevik/etree v1.1.0 // indirect
	github.com/golang-jwt/jwt/v5 v5.2.2 // indirect
	github.com/golang/mock v1.6.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
