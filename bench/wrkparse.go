package bench

import (
	"bufio"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// WrkResult contains the figures that one wrk run reports.
type WrkResult struct {
	Requests  int64   // completed requests
	RPS       float64 // the "Requests/sec" line
	P50, P99  time.Duration
	Non2xx3xx int64 // responses with status > 399, as wrk counts them
	Socket    SocketErrors
}

// SocketErrors are wrk's "Socket errors" counters.
type SocketErrors struct {
	Connect, Read, Write, Timeout int64
}

// Errors returns the number of failed requests: error statuses plus socket errors.
func (r WrkResult) Errors() int64 {
	return r.Non2xx3xx + r.Socket.Connect + r.Socket.Read + r.Socket.Write + r.Socket.Timeout
}

// ParseWrk parses the text output of `wrk --latency` (wrk 4.x).
func ParseWrk(out string) (WrkResult, error) {
	var r WrkResult
	var haveRPS, haveP50, haveP99, haveRequests bool

	scanner := bufio.NewScanner(strings.NewReader(out))
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		fields := strings.Fields(line)
		var err error
		switch {
		case strings.HasPrefix(line, "Requests/sec:") && len(fields) == 2:
			r.RPS, err = strconv.ParseFloat(fields[1], 64)
			haveRPS = true
		case len(fields) == 2 && fields[0] == "50%":
			r.P50, err = parseWrkDuration(fields[1])
			haveP50 = true
		case len(fields) == 2 && fields[0] == "99%":
			r.P99, err = parseWrkDuration(fields[1])
			haveP99 = true
		case len(fields) >= 3 && fields[1] == "requests" && fields[2] == "in":
			r.Requests, err = strconv.ParseInt(fields[0], 10, 64)
			haveRequests = true
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:") && len(fields) == 5:
			r.Non2xx3xx, err = strconv.ParseInt(fields[4], 10, 64)
		case strings.HasPrefix(line, "Socket errors:"):
			r.Socket, err = parseSocketErrors(line)
		}
		if err != nil {
			return WrkResult{}, fmt.Errorf("parse wrk output line %q: %w", line, err)
		}
	}

	switch {
	case !haveRPS:
		return WrkResult{}, fmt.Errorf("wrk output has no \"Requests/sec:\" line: %q", cutOutput(out))
	case !haveRequests:
		return WrkResult{}, fmt.Errorf("wrk output has no \"N requests in\" line: %q", cutOutput(out))
	case !haveP50 || !haveP99:
		return WrkResult{}, fmt.Errorf("wrk output has no 50%% or 99%% latency line; run wrk with --latency: %q", cutOutput(out))
	}
	return r, nil
}

// parseSocketErrors parses "Socket errors: connect 3, read 17, write 0, timeout 42".
func parseSocketErrors(line string) (SocketErrors, error) {
	var s SocketErrors
	_, err := fmt.Sscanf(line, "Socket errors: connect %d, read %d, write %d, timeout %d",
		&s.Connect, &s.Read, &s.Write, &s.Timeout)
	return s, err
}

// parseWrkDuration parses wrk's time format: a number with unit us, ms, s, m or h.
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{
		{"us", time.Microsecond},
		{"ms", time.Millisecond},
		{"s", time.Second},
		{"m", time.Minute},
		{"h", time.Hour},
	}
	for _, u := range units {
		number, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(number, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("invalid wrk duration %q", s)
		}
		return time.Duration(math.Round(v * float64(u.unit))), nil
	}
	return 0, fmt.Errorf("invalid wrk duration %q: unit is not us, ms, s, m or h", s)
}

func cutOutput(s string) string {
	const maxLen = 400
	if len(s) <= maxLen {
		return s
	}
	return s[:maxLen] + "..."
}
