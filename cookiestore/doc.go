// Package cookiestore keeps each conversation in Twilio's cookie.
package cookiestore
