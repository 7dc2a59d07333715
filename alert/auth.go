package alert

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
)

// resolveAuthorization returns the Authorization header value that auth
// configures, with the secret read from the environment, or "" for none.
func resolveAuthorization(auth AuthConfig, path string, lookupEnv func(string) (string, bool)) (string, error) {
	if auth.Type == AuthNone {
		return "", nil
	}

	secret, ok := lookupEnv(auth.SecretEnv)
	if !ok || secret == "" {
		return "", &FieldError{Path: path + ".secret_env", Err: fmt.Errorf("environment variable %s is not set; set it to the %s secret", auth.SecretEnv, auth.Type)}
	}

	if auth.Type == AuthBasic {
		credentials := base64.StdEncoding.EncodeToString([]byte(auth.Username + ":" + secret))
		return "Basic " + credentials, nil
	}
	return "Bearer " + secret, nil
}

// redact replaces the URL in a *url.Error with the sink's scheme and host,
// because the path of a Slack webhook URL, or user info in any URL, is a
// secret. Other errors of net/http name no URL.
func (s *sink) redact(err error) error {
	var urlErr *url.Error
	if !errors.As(err, &urlErr) {
		return err
	}
	return fmt.Errorf("%s %s: %w", urlErr.Op, s.safeURL, urlErr.Err)
}
