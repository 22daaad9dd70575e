package convo

// DecodeRecord decodes a stored record, for tests that look inside stores.
func DecodeRecord(key Key, data []byte) (*Conversation, error) { return decodeRecord(key, data) }

// RetryIDs returns the ids of c's retry records, oldest first.
func RetryIDs(c *Conversation) []string {
	ids := make([]string, len(c.retries))
	for i, r := range c.retries {
		ids[i] = r.ID
	}
	return ids
}

// ParseForm is parseForm, for FuzzParseForm.
var ParseForm = parseForm
