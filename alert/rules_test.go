package alert

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestErrorRateExceeded(t *testing.T) {
	cfg := DefaultConfig().Rules.TenantErrorRate
	cases := []struct {
		errors, requests uint64
		want             bool
	}{
		{errors: 0, requests: 0, want: false},
		{errors: 99, requests: 99, want: false},
		{errors: 5, requests: 100, want: false},
		{errors: 6, requests: 100, want: true},
		{errors: 100, requests: 100, want: true},
		{errors: 51, requests: 1000, want: true},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, ErrorRateExceeded(c.errors, c.requests, cfg), "%d errors of %d requests", c.errors, c.requests)
	}
}

func TestRulesConfigCoversAllRules(t *testing.T) {
	rules := DefaultConfig().Rules
	for _, rule := range AllRules() {
		cfg, ok := rules.Rule(rule)
		assert.True(t, ok, "%s", rule)
		assert.True(t, cfg.Enabled, "%s", rule)
	}
	_, ok := rules.Rule("disk_full")
	assert.False(t, ok)
}
