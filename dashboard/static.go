package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// staticFiles are the page, its script and style, and the vendored uPlot.
//
//go:embed static
var staticFiles embed.FS

// contentTypes maps the extensions of the embedded files to their types.
// They are fixed here, not taken from the mime package, because that reads
// the host's /etc/mime.types, which may type .js differently.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".md":   "text/plain; charset=utf-8",
	"":      "text/plain; charset=utf-8", // LICENSE
}

// contentSecurityPolicy lets the page load only its own files and talk
// only to its own origin. style-src allows inline styles because uPlot
// positions its elements with style attributes.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

type staticFile struct {
	body        []byte
	contentType string
	etag        string
}

// files maps each embedded path below static/, such as "/app.js", to its
// content, loaded once.
var files = loadStatic()

func loadStatic() map[string]staticFile {
	out := map[string]staticFile{}
	err := fs.WalkDir(staticFiles, "static", func(name string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return err
		}
		body, err := staticFiles.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		typ, ok := contentTypes[path.Ext(name)]
		if !ok {
			typ = "application/octet-stream"
		}
		out[strings.TrimPrefix(name, "static")] = staticFile{
			body:        body,
			contentType: typ,
			etag:        `"` + hex.EncodeToString(sum[:8]) + `"`,
		}
		return nil
	})
	if err != nil {
		panic("dashboard: reading embedded files: " + err.Error())
	}
	return out
}

// serveIndex serves the page without authentication, because the page
// prompts for the admin token and sends it with each data request.
func serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.Header().Set("Referrer-Policy", "no-referrer")
	serveFile(w, r, "/index.html")
}

// serveStatic serves the files below static/, with the prefix stripped.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	serveFile(w, r, r.URL.Path)
}

func serveFile(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := files[name]
	if !ok {
		writeError(w, http.StatusNotFound, "not found: "+name)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Revalidate every time, so that a new DFLB build's page and script
	// never mix with cached old ones. The ETag keeps that cheap.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", f.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}
