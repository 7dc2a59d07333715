package controlplane

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dflb/dflb/dfmapi"
)

const testSecret = "s3cret-token-for-tests"

func newTestHandler(t *testing.T, opts ...NotificationOption) (*NotificationHandler, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := NewNotificationHandler(testSecret, logger, opts...)
	require.NoError(t, err)
	return h, &logs
}

// syncWriter serializes writes, because handlers run concurrently in some
// tests.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func notification(instance string, seq uint64, at time.Time) dfmapi.Notification {
	return dfmapi.Notification{
		Instance:     instance,
		Seq:          seq,
		Time:         at,
		Kind:         dfmapi.KindComponentDown,
		Component:    "app",
		Reason:       "exit status 1",
		Measurements: dfmapi.Measurements{CPU: 0.5, ComponentRSSBytes: 1234},
	}
}

func post(t *testing.T, h http.Handler, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, NotificationsPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func postNotification(t *testing.T, h http.Handler, token string, n dfmapi.Notification) *httptest.ResponseRecorder {
	t.Helper()
	body, err := json.Marshal(n)
	require.NoError(t, err)
	return post(t, h, token, string(body))
}

func errorMessage(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var resp dfmapi.ErrorResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), "body: %s", rec.Body)
	return resp.Error
}

var t0 = time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)

func TestNewRejectsEmptySecret(t *testing.T) {
	h, err := NewNotificationHandler("", nil)

	assert.Nil(t, h)
	assert.ErrorContains(t, err, "empty notification secret")
}

func TestGoodTokenRecorded(t *testing.T) {
	h, _ := newTestHandler(t)
	n := notification("i-1", 1, t0)

	rec := postNotification(t, h, testSecret, n)

	assert.Equal(t, http.StatusNoContent, rec.Code)
	require.Len(t, h.Recent(10), 1)
	assert.Equal(t, n, h.Recent(10)[0])
	seq, ok := h.LastSeq("i-1")
	assert.True(t, ok)
	assert.Equal(t, uint64(1), seq)
}

func TestBadTokenRejected(t *testing.T) {
	tests := map[string]string{
		"wrong token": "not-the-secret",
		"no token":    "",
		"prefix only": testSecret[:5],
	}
	for name, token := range tests {
		t.Run(name, func(t *testing.T) {
			h, logs := newTestHandler(t)
			sub, cancel := h.Subscribe(1)
			defer cancel()

			rec := postNotification(t, h, token, notification("i-1", 1, t0))

			assert.Equal(t, http.StatusUnauthorized, rec.Code)
			assert.Equal(t, `Bearer realm="dflb"`, rec.Header().Get("WWW-Authenticate"))
			assert.Empty(t, h.Recent(10))
			_, ok := h.LastSeq("i-1")
			assert.False(t, ok)
			assert.Empty(t, sub)
			assert.NotContains(t, logs.String(), testSecret)
			if token != "" {
				assert.NotContains(t, logs.String(), token)
			}
		})
	}
}

func TestBasicAuthRejected(t *testing.T) {
	h, _ := newTestHandler(t)
	req := httptest.NewRequest(http.MethodPost, NotificationsPath, strings.NewReader(`{}`))
	req.SetBasicAuth("dfm", testSecret)
	rec := httptest.NewRecorder()

	h.ServeHTTP(rec, req)

	assert.Equal(t, http.StatusUnauthorized, rec.Code)
}

func TestMalformedBodyRejected(t *testing.T) {
	valid := `{"instance":"i-1","seq":1,"time":"2026-12-04T21:00:00Z","kind":"overload"}`
	tests := []struct {
		name    string
		body    string
		status  int
		message string
	}{
		{"empty body", "", http.StatusBadRequest, "empty body"},
		{"syntax error", `{"instance": "i-1",`, http.StatusBadRequest, "ends inside"},
		{"bad character", `{"instance" "i-1"}`, http.StatusBadRequest, "invalid JSON at byte"},
		{"seq as string", `{"instance":"i-1","seq":"one","time":"2026-12-04T21:00:00Z","kind":"overload"}`, http.StatusBadRequest, "field seq"},
		{"negative seq", `{"instance":"i-1","seq":-1,"time":"2026-12-04T21:00:00Z","kind":"overload"}`, http.StatusBadRequest, "field seq"},
		{"bad time", `{"instance":"i-1","seq":1,"time":"yesterday","kind":"overload"}`, http.StatusBadRequest, `field time: "yesterday"`},
		{"missing instance", `{"seq":1,"time":"2026-12-04T21:00:00Z","kind":"overload"}`, http.StatusBadRequest, "field instance"},
		{"zero seq", `{"instance":"i-1","seq":0,"time":"2026-12-04T21:00:00Z","kind":"overload"}`, http.StatusBadRequest, "field seq"},
		{"unknown kind", `{"instance":"i-1","seq":1,"time":"2026-12-04T21:00:00Z","kind":"exploded"}`, http.StatusBadRequest, `unknown kind "exploded"`},
		{"missing component", `{"instance":"i-1","seq":1,"time":"2026-12-04T21:00:00Z","kind":"component_down"}`, http.StatusBadRequest, "field component"},
		{"two objects", valid + valid, http.StatusBadRequest, "after the notification object"},
		{"array", `[` + valid + `]`, http.StatusBadRequest, "the body is a JSON array"},
		{"nested type", `{"instance":"i-1","seq":1,"time":"2026-12-04T21:00:00Z","kind":"overload","measurements":{"cpu":"x"}}`, http.StatusBadRequest, "field measurements.cpu"},
		{"too large", `{"instance":"` + strings.Repeat("x", maxNotificationBytes) + `"}`, http.StatusRequestEntityTooLarge, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newTestHandler(t)

			rec := post(t, h, testSecret, tt.body)

			assert.Equal(t, tt.status, rec.Code)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			assert.Contains(t, errorMessage(t, rec), tt.message)
			assert.Empty(t, h.Recent(10))
		})
	}
}

func TestUnknownFieldAccepted(t *testing.T) {
	h, _ := newTestHandler(t)
	body := `{"instance":"i-1","seq":1,"time":"2026-12-04T21:00:00Z","kind":"overload","added_later":true}`

	rec := post(t, h, testSecret, body)

	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Len(t, h.Recent(10), 1)
}

func TestMethodNotAllowed(t *testing.T) {
	h, _ := newTestHandler(t)
	req := httptest.NewRequest(http.MethodGet, NotificationsPath, nil)
	req.Header.Set("Authorization", "Bearer "+testSecret)
	rec := httptest.NewRecorder()

	h.ServeHTTP(rec, req)

	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, http.MethodPost, rec.Header().Get("Allow"))
}

func TestDuplicateSeqRecordedOnce(t *testing.T) {
	h, _ := newTestHandler(t)
	sub, cancel := h.Subscribe(10)
	defer cancel()
	first := notification("i-1", 1, t0)
	second := notification("i-1", 2, t0.Add(time.Second))

	for _, n := range []dfmapi.Notification{first, first, second, first, second} {
		rec := postNotification(t, h, testSecret, n)
		assert.Equal(t, http.StatusNoContent, rec.Code, "seq %d", n.Seq)
	}

	assert.Equal(t, []dfmapi.Notification{first, second}, h.Recent(10))
	assert.Len(t, sub, 2)
	seq, _ := h.LastSeq("i-1")
	assert.Equal(t, uint64(2), seq)
}

func TestSameSeqOtherInstanceRecorded(t *testing.T) {
	h, _ := newTestHandler(t)

	postNotification(t, h, testSecret, notification("i-1", 1, t0))
	postNotification(t, h, testSecret, notification("i-2", 1, t0))

	assert.Len(t, h.Recent(10), 2)
}

func TestSeqRestartAfterDFMRestart(t *testing.T) {
	h, _ := newTestHandler(t)
	before := notification("i-1", 7, t0)
	afterRestart := notification("i-1", 1, t0.Add(time.Minute))

	postNotification(t, h, testSecret, before)
	postNotification(t, h, testSecret, afterRestart)
	postNotification(t, h, testSecret, afterRestart) // a retry

	assert.Equal(t, []dfmapi.Notification{before, afterRestart}, h.Recent(10))
	seq, _ := h.LastSeq("i-1")
	assert.Equal(t, uint64(1), seq)
}

func TestRingBoundRespected(t *testing.T) {
	h, _ := newTestHandler(t, WithRecentCapacity(3))

	for seq := uint64(1); seq <= 5; seq++ {
		rec := postNotification(t, h, testSecret, notification("i-1", seq, t0.Add(time.Duration(seq)*time.Second)))
		require.Equal(t, http.StatusNoContent, rec.Code)
	}

	recent := h.Recent(10)
	require.Len(t, recent, 3)
	assert.Equal(t, uint64(3), recent[0].Seq)
	assert.Equal(t, uint64(4), recent[1].Seq)
	assert.Equal(t, uint64(5), recent[2].Seq)
}

func TestRecentLimits(t *testing.T) {
	h, _ := newTestHandler(t)
	for seq := uint64(1); seq <= 4; seq++ {
		postNotification(t, h, testSecret, notification("i-1", seq, t0.Add(time.Duration(seq)*time.Second)))
	}

	assert.Nil(t, h.Recent(0))
	assert.Nil(t, h.Recent(-1))
	two := h.Recent(2)
	require.Len(t, two, 2)
	assert.Equal(t, uint64(3), two[0].Seq)
	assert.Equal(t, uint64(4), two[1].Seq)
}

func TestDefaultCapacity(t *testing.T) {
	h, _ := newTestHandler(t)

	for seq := uint64(1); seq <= DefaultRecentCapacity+10; seq++ {
		postNotification(t, h, testSecret, notification("i-1", seq, t0.Add(time.Duration(seq)*time.Millisecond)))
	}

	recent := h.Recent(2 * DefaultRecentCapacity)
	require.Len(t, recent, DefaultRecentCapacity)
	assert.Equal(t, uint64(11), recent[0].Seq)
}

func TestSubscribeReceivesInOrder(t *testing.T) {
	h, _ := newTestHandler(t)
	before := notification("i-1", 1, t0)
	postNotification(t, h, testSecret, before)
	sub, cancel := h.Subscribe(10)

	for seq := uint64(2); seq <= 4; seq++ {
		postNotification(t, h, testSecret, notification("i-1", seq, t0.Add(time.Duration(seq)*time.Second)))
	}

	for want := uint64(2); want <= 4; want++ {
		select {
		case n := <-sub:
			assert.Equal(t, want, n.Seq)
		case <-time.After(time.Second):
			t.Fatalf("notification seq %d not delivered", want)
		}
	}
	cancel()
	_, open := <-sub
	assert.False(t, open, "channel still open after cancel")
	cancel() // a second cancel must not panic
}

func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	h, logs := newTestHandler(t)
	sub, cancel := h.Subscribe(1)
	defer cancel()

	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := uint64(1); seq <= 3; seq++ {
			postNotification(t, h, testSecret, notification("i-1", seq, t0.Add(time.Duration(seq)*time.Second)))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("handler blocked on a full subscriber")
	}

	assert.Len(t, h.Recent(10), 3)
	assert.Equal(t, uint64(1), (<-sub).Seq)
	assert.Contains(t, logs.String(), "dropped notifications")
}

func TestConcurrentPosts(t *testing.T) {
	h, _ := newTestHandler(t, WithRecentCapacity(10_000))
	const instances, perInstance = 8, 50

	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			for seq := uint64(1); seq <= perInstance; seq++ {
				n := notification(fmt.Sprintf("i-%d", i), seq, t0.Add(time.Duration(seq)*time.Second))
				postNotification(t, h, testSecret, n)
				postNotification(t, h, testSecret, n) // a retry
			}
		})
	}
	wg.Wait()

	assert.Len(t, h.Recent(100_000), instances*perInstance)
	for i := range instances {
		seq, ok := h.LastSeq(fmt.Sprintf("i-%d", i))
		assert.True(t, ok)
		assert.Equal(t, uint64(perInstance), seq)
	}
}

func TestReceiverOverHTTP(t *testing.T) {
	h, _ := newTestHandler(t)
	mux := http.NewServeMux()
	mux.Handle("POST "+NotificationsPath, h)
	server := httptest.NewServer(mux)
	defer server.Close()
	body, err := json.Marshal(notification("i-1", 1, t0))
	require.NoError(t, err)

	req, err := http.NewRequest(http.MethodPost, server.URL+NotificationsPath, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testSecret)
	resp, err := server.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Len(t, h.Recent(1), 1)
}
