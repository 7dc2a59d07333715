package broker

import (
	"io"
	"log/slog"
	"net/http"
)

// recordingWriter records the status and the error message of a response,
// so that one log line can report every rejected request.
type recordingWriter struct {
	http.ResponseWriter
	status  int
	message string
}

func (w *recordingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// recordMessage stores the error message of the response in w if w is a
// recordingWriter.
func recordMessage(w http.ResponseWriter, message string) {
	if rec, ok := w.(*recordingWriter); ok {
		rec.message = message
	}
}

// serveLoggingRejections runs next and logs a response with a 4xx status at
// Info with the message sent. Handlers log 5xx responses themselves, at
// Warn or Error with the cause, which the response does not carry.
func serveLoggingRejections(log *slog.Logger, next http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := &recordingWriter{ResponseWriter: w}
	next.ServeHTTP(rec, r)
	if rec.status >= 400 && rec.status < 500 {
		log.Info("request rejected", "method", r.Method, "path", r.URL.Path, "status", rec.status, "error", rec.message)
	}
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *recordingWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

// limitBody limits r.Body to maxBodyBytes. It passes the server's own
// writer to http.MaxBytesReader, which otherwise cannot tell the server to
// close the connection after an oversized body.
func limitBody(w http.ResponseWriter, r *http.Request) io.Reader {
	if rec, ok := w.(*recordingWriter); ok {
		w = rec.ResponseWriter
	}
	return http.MaxBytesReader(w, r.Body, maxBodyBytes)
}
