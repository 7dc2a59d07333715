package sample

import (
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// params are the query parameters of a request for the JSON document.
type params struct {
	size  int // body size in bytes, or -1 for the unpadded document
	work  time.Duration
	sleep time.Duration
}

func parseParams(args *fasthttp.Args) (params, error) {
	p := params{size: -1}

	if args.Has("size") {
		n, err := parseBounded(args.Peek("size"), MaxSize)
		if err != nil {
			return p, fmt.Errorf("invalid size %q: want an integer number of bytes from 0 to %d", cut(string(args.Peek("size"))), MaxSize)
		}
		p.size = n
	}
	if args.Has("work") {
		n, err := parseBounded(args.Peek("work"), MaxMillis)
		if err != nil {
			return p, fmt.Errorf("invalid work %q: want an integer number of milliseconds from 0 to %d", cut(string(args.Peek("work"))), MaxMillis)
		}
		p.work = time.Duration(n) * time.Millisecond
	}
	if args.Has("sleep") {
		n, err := parseBounded(args.Peek("sleep"), MaxMillis)
		if err != nil {
			return p, fmt.Errorf("invalid sleep %q: want an integer number of milliseconds from 0 to %d", cut(string(args.Peek("sleep"))), MaxMillis)
		}
		p.sleep = time.Duration(n) * time.Millisecond
	}
	return p, nil
}

// parseBounded parses a decimal integer from 0 to upper.
func parseBounded(b []byte, upper int) (int, error) {
	n, err := fasthttp.ParseUint(b)
	if err != nil {
		return 0, err
	}
	if n > upper {
		return 0, fmt.Errorf("%d is greater than %d", n, upper)
	}
	return n, nil
}
