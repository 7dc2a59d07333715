package sample

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/dflb/dflb/internal/testutil"
)

func TestAppendJSONStringEscapes(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "ctl\x00\x1f\n", "héllo ☃", "bad\xffutf8", "/p?a=1&b=<x>"} {
		encoded := appendJSONString(nil, s)
		var decoded string
		require.NoError(t, json.Unmarshal(encoded, &decoded), "%q encoded as %s", s, encoded)
		if s == "bad\xffutf8" {
			assert.Equal(t, "bad\ufffdutf8", decoded)
			continue
		}
		assert.Equal(t, s, decoded)
	}
}

func TestWritePaddedSizes(t *testing.T) {
	doc := []byte(`{"a":"b"}` + "\n")
	for _, tc := range []struct {
		size int
		want string
	}{
		{-1, `{"a":"b"}` + "\n"},
		{0, ""},
		{4, `{"a"`},
		{13, `{"a":"b"}` + "\n   "},
	} {
		var resp fasthttp.Response
		writePadded(&resp, doc, tc.size)
		assert.Equal(t, tc.want, string(resp.Body()), "size %d", tc.size)
	}
}

func TestDescribeNoAlloc(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("allocation counts vary under -race")
	}
	srv, err := New(Config{Instance: "i1", Tenants: []string{"acme"}}, nil)
	require.NoError(t, err)
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/x?size=1024")
	ctx.Request.Header.Set(TenantHeader, "acme")

	allocs := testing.AllocsPerRun(100, func() {
		ctx.Response.Reset()
		srv.handle(&ctx)
	})
	assert.Zero(t, allocs)
	assert.Equal(t, fasthttp.StatusOK, ctx.Response.StatusCode())
	assert.Len(t, ctx.Response.Body(), 1024)
}
