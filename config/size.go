package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// unitMultiplier returns the bytes of one size unit: decimal SI or binary IEC.
func unitMultiplier(unit string) (int64, bool) {
	switch unit {
	case "B":
		return 1, true
	case "KB":
		return 1e3, true
	case "MB":
		return 1e6, true
	case "GB":
		return 1e9, true
	case "TB":
		return 1e12, true
	case "KiB":
		return 1 << 10, true
	case "MiB":
		return 1 << 20, true
	case "GiB":
		return 1 << 30, true
	case "TiB":
		return 1 << 40, true
	}
	return 0, false
}

// ParseSize parses a byte count: a non-negative integer with an optional unit,
// such as "512", "16KiB", "64 MiB" or "1GB". Units are case-sensitive.
func ParseSize(s string) (int64, error) {
	text := strings.TrimSpace(s)
	digits := len(text) - len(strings.TrimLeft(text, "0123456789"))
	if digits == 0 {
		return 0, fmt.Errorf("invalid size %q; write a whole number of bytes with an optional unit such as 16KiB", s)
	}
	n, err := strconv.ParseInt(text[:digits], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q; the number is larger than %d", s, int64(math.MaxInt64))
	}

	unit := strings.TrimSpace(text[digits:])
	if strings.HasPrefix(unit, ".") || strings.HasPrefix(unit, ",") {
		return 0, fmt.Errorf("invalid size %q; write a whole number, with a smaller unit if needed, such as 1536MiB for 1.5GiB", s)
	}
	if unit == "" {
		return n, nil
	}
	multiplier, ok := unitMultiplier(unit)
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB", s, unit)
	}
	if n > math.MaxInt64/multiplier {
		return 0, fmt.Errorf("invalid size %q; it is larger than %d bytes", s, int64(math.MaxInt64))
	}
	return n * multiplier, nil
}
