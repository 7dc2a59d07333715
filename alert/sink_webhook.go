package alert

import (
	"encoding/json"
	"fmt"
	"time"
)

// encodeWebhook returns the body of the generic webhook: the notification as
// one JSON object, in the schema that Notification documents.
func encodeWebhook(ns []Notification, _ time.Time) ([]byte, error) {
	if len(ns) != 1 {
		return nil, fmt.Errorf("webhook body needs exactly 1 notification, got %d", len(ns))
	}

	return json.Marshal(ns[0])
}
