package convotest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/smsconvo/convo"
)

// ErrInvalidTwiML is wrapped by the errors of [ParseTwiML], and returned by
// a [Phone] (with the Reply) when a 2xx answer's body is not a messaging
// TwiML document: what Twilio reports as error 12100 and does not act on.
var ErrInvalidTwiML = errors.New("convotest: answer is not valid messaging TwiML")

// ParseTwiML reads a messaging TwiML document: a <Response> holding
// <Message> verbs (text directly inside, or in a <Body>, with up to 10
// <Media> URLs) and at most one <Redirect>, which ends the document as it
// ends Twilio's processing. Message text is kept exactly as the document
// holds it, after XML's unescaping and line-end normalization (a raw CR LF
// or CR reads as LF, as any XML parser, Twilio's too, reads it); media and
// redirect URLs are trimmed of surrounding white space. Attributes Twilio defines (to, from, action,
// method, statusCallback) are kept; others are ignored.
//
// It fails, with an error wrapping [ErrInvalidTwiML], on a document that is
// not well-formed XML, whose root is not <Response>, that holds a verb other
// than <Message> and <Redirect>, a <Message> with anything but <Body> and
// <Media> inside (or text beside a <Body>), more than one <Body>, more than
// 10 <Media>, a <Redirect> with no URL or anything after a <Redirect>.
//
// It is the inverse of [convo.Reply.TwiML] for any reply whose texts hold
// only characters XML can carry, and no carriage returns.
func ParseTwiML(doc []byte) (convo.Reply, error) {
	var reply convo.Reply
	var root struct {
		XMLName xml.Name
		Verbs   []xmlVerb `xml:",any"`
		Text    string    `xml:",chardata"`
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	if err := d.Decode(&root); err != nil {
		return reply, fmt.Errorf("%w: %v", ErrInvalidTwiML, err)
	}
	if err := onlyMisc(d); err != nil {
		return reply, err
	}
	if root.XMLName.Local != "Response" {
		return reply, fmt.Errorf("%w: root element is <%s>, want <Response>", ErrInvalidTwiML, root.XMLName.Local)
	}
	if strings.TrimSpace(root.Text) != "" {
		return reply, fmt.Errorf("%w: text directly inside <Response>", ErrInvalidTwiML)
	}
	for i, v := range root.Verbs {
		if reply.Redirect != nil {
			return reply, fmt.Errorf("%w: <%s> after <Redirect>", ErrInvalidTwiML, v.XMLName.Local)
		}
		switch v.XMLName.Local {
		case "Message":
			m, err := v.message()
			if err != nil {
				return reply, fmt.Errorf("%w: <Message> %d: %v", ErrInvalidTwiML, i+1, err)
			}
			reply.Messages = append(reply.Messages, m)
		case "Redirect":
			if len(v.Nouns) > 0 {
				return reply, fmt.Errorf("%w: element inside <Redirect>", ErrInvalidTwiML)
			}
			u := strings.TrimSpace(v.Text)
			if u == "" {
				return reply, fmt.Errorf("%w: <Redirect> without a URL", ErrInvalidTwiML)
			}
			reply.Redirect = &convo.Redirect{URL: u, Method: v.attr("method")}
		default:
			return reply, fmt.Errorf("%w: unknown verb <%s>", ErrInvalidTwiML, v.XMLName.Local)
		}
	}
	return reply, nil
}

type xmlVerb struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nouns   []xmlNoun  `xml:",any"`
}

type xmlNoun struct {
	XMLName xml.Name
	Text    string    `xml:",chardata"`
	Inner   []xmlNoun `xml:",any"`
}

func (v *xmlVerb) attr(name string) string {
	for _, a := range v.Attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (v *xmlVerb) message() (convo.Outgoing, error) {
	m := convo.Outgoing{
		To:             v.attr("to"),
		From:           v.attr("from"),
		Action:         v.attr("action"),
		Method:         v.attr("method"),
		StatusCallback: v.attr("statusCallback"),
	}
	bodies := 0
	for _, n := range v.Nouns {
		if len(n.Inner) > 0 {
			return m, fmt.Errorf("element inside <%s>", n.XMLName.Local)
		}
		switch n.XMLName.Local {
		case "Body":
			bodies++
			m.Body = n.Text
		case "Media":
			u := strings.TrimSpace(n.Text)
			if u == "" {
				return m, errors.New("<Media> without a URL")
			}
			m.Media = append(m.Media, u)
		default:
			return m, fmt.Errorf("unknown noun <%s>", n.XMLName.Local)
		}
	}
	switch {
	case bodies > 1:
		return m, errors.New("more than one <Body>")
	case len(m.Media) > convo.MaxMedia:
		return m, fmt.Errorf("%d <Media>, at most %d allowed", len(m.Media), convo.MaxMedia)
	case len(v.Nouns) == 0:
		m.Body = v.Text
	case strings.TrimSpace(v.Text) != "":
		return m, errors.New("text beside <Body> or <Media>")
	}
	return m, nil
}

// onlyMisc checks that nothing but white space, comments and processing
// instructions follows the root element.
func onlyMisc(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidTwiML, err)
		}
		switch t := tok.(type) {
		case xml.Comment, xml.ProcInst, xml.Directive:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return fmt.Errorf("%w: text after </Response>", ErrInvalidTwiML)
			}
		default:
			return fmt.Errorf("%w: content after </Response>", ErrInvalidTwiML)
		}
	}
}
