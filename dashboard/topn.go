package dashboard

import (
	"cmp"
	"slices"

	"github.com/dflb/dflb/balancer"
)

// ranked is a cell's name with the score it is ranked by: its request
// rate, times stickiness when it already has a series.
type ranked struct {
	name  string
	score float64
}

// topByRate appends to dst the limit names of rates with the highest
// score, highest first, ties broken by name. It runs in one pass over
// rates and keeps no more than limit entries, so ranking 10,000 tenants
// allocates nothing once dst has grown to limit.
func topByRate(dst []ranked, rates map[string]balancer.Rate, limit int, tracked func(string) bool) []ranked {
	for name, r := range rates {
		score := r.Requests
		if tracked(name) {
			score *= stickiness
		}
		c := ranked{name: name, score: score}
		if len(dst) == limit && !better(c, dst[len(dst)-1]) {
			continue
		}
		i, _ := slices.BinarySearchFunc(dst, c, func(e, target ranked) int {
			if better(e, target) {
				return -1
			}
			return 1
		})
		if len(dst) < limit {
			dst = append(dst, ranked{})
		}
		copy(dst[i+1:], dst[i:len(dst)-1])
		dst[i] = c
	}
	return dst
}

// better reports whether a ranks before b.
func better(a, b ranked) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return cmp.Less(a.name, b.name)
}

func containsName(list []ranked, name string) bool {
	return slices.ContainsFunc(list, func(r ranked) bool { return r.name == name })
}
