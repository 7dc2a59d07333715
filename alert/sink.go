package alert

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// sink is one receiver of notifications with its queue. One goroutine, run,
// delivers the queue in order.
type sink struct {
	name           string
	kind           string
	endpoint       string // the URL that notifications are posted to; may be a secret
	safeURL        string // scheme and host of endpoint, for logs and errors
	authorization  string // value of the Authorization header, or empty; a secret
	encode         encoder
	client         *retryablehttp.Client
	maxQueue       int
	maxAttempts    int
	resendInterval time.Duration // 0 for sinks that take no resends
	log            *slog.Logger
	clock          Clock
	manager        *Manager

	// nextResend is when the next resend is due. Manager.mu guards it.
	nextResend time.Time

	mu      sync.Mutex
	queue   []message
	seq     uint64        // sequence number of the last queued message
	sending uint64        // seq of the message in flight, 0 when none is
	failing bool          // the last message was dropped
	wake    chan struct{} // buffered 1: new work for run
	idle    *sync.Cond    // signalled when the queue empties, for flush
}

// encoder returns the request body for notifications at time now. For webhook
// and Slack sinks ns has one element, and for Alertmanager it may have more.
type encoder func(ns []Notification, now time.Time) ([]byte, error)

// newSink builds the sink that sc configures. path is the position of sc in
// the configuration, for errors. now starts the resend interval.
func newSink(sc SinkConfig, path string, m *Manager, now time.Time) (*sink, error) {
	base, err := resolveURL(sc, path, m.lookupEnv)
	if err != nil {
		return nil, err
	}
	authorization, err := resolveAuthorization(sc.Auth, path+".auth", m.lookupEnv)
	if err != nil {
		return nil, err
	}

	s := &sink{
		name:          sc.Name,
		kind:          sc.Kind,
		endpoint:      base.String(),
		safeURL:       base.Scheme + "://" + base.Host,
		authorization: authorization,
		maxQueue:      sc.QueueSize,
		maxAttempts:   sc.MaxAttempts,
		log:           m.log.With("sink", sc.Name, "kind", sc.Kind),
		clock:         m.clock,
		manager:       m,
		wake:          make(chan struct{}, 1),
	}
	s.idle = sync.NewCond(&s.mu)

	switch sc.Kind {
	case SinkWebhook:
		s.encode = encodeWebhook
	case SinkSlack:
		s.encode = encodeSlack
	case SinkAlertmanager:
		s.endpoint = base.JoinPath(alertmanagerPath).String()
		s.encode = alertmanagerEncoder(m.cfg.GeneratorURL, sc.ResendInterval)
		s.resendInterval = sc.ResendInterval
		s.nextResend = now.Add(sc.ResendInterval)
	}

	s.client = s.newClient(sc)
	return s, nil
}

// newClient returns the HTTP client of s: up to MaxAttempts attempts with
// exponential backoff, and the last response returned as is, so that deliver
// can report its status.
func (s *sink) newClient(sc SinkConfig) *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.RetryMax = sc.MaxAttempts - 1
	c.RetryWaitMin = sc.RetryWaitMin
	c.RetryWaitMax = sc.RetryWaitMax
	c.HTTPClient.Timeout = sc.Timeout
	c.CheckRetry = s.checkRetry
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	// retryablehttp logs URLs, and a Slack webhook URL is a secret.
	c.Logger = nil

	// A redirect is reported as a failure instead of followed, because a
	// redirected POST becomes a GET and the notification would be lost.
	c.HTTPClient.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	return c
}

// resolveURL returns the URL of sc, read from the environment for url_env.
// Errors about a URL from the environment leave the value out, because it
// may be a secret.
func resolveURL(sc SinkConfig, path string, lookupEnv func(string) (string, bool)) (*url.URL, error) {
	raw := sc.URL
	if sc.URLEnv != "" {
		value, ok := lookupEnv(sc.URLEnv)
		if !ok || value == "" {
			return nil, &FieldError{Path: path + ".url_env", Err: fmt.Errorf("environment variable %s is not set; set it to the URL of sink %q", sc.URLEnv, sc.Name)}
		}
		if err := checkHTTPURL(value); err != nil {
			return nil, &FieldError{Path: path + ".url_env", Err: fmt.Errorf("environment variable %s does not contain an absolute http or https URL", sc.URLEnv)}
		}
		raw = value
	}

	u, err := url.Parse(raw)
	if err != nil {
		// Validate has parsed sc.URL already, so only a changed value gets here.
		return nil, &FieldError{Path: path + ".url", Err: fmt.Errorf("invalid URL: %w", err)}
	}
	return u, nil
}
