module github.com/smsconvo/convo

go 1.25.0

require (
	github.com/gorilla/securecookie v1.1.2
	github.com/stretchr/testify v1.12.1
	github.com/twilio/twilio-go v1.31.0
)

require (
	github.com/beevik/etree v1.1.0 // indirect
	github.com/golang/mock v1.6.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
