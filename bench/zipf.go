package bench

import (
	"fmt"
	"math"
)

// ZipfS is the Zipf exponent of the many-tenant scenario.
const ZipfS = 1.1

// ZipfCDF returns the cumulative distribution over ranks 1..n with weights
// 1/rank^s, restricted to the ranks for which keep returns true (nil keeps
// all). The last value is exactly 1, so a uniform draw in [0, 1) always
// finds an entry.
func ZipfCDF(n int, s float64, keep func(rank int) bool) ([]float64, error) {
	if n < 1 {
		return nil, fmt.Errorf("invalid Zipf size %d: need at least one rank", n)
	}
	if s <= 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("invalid Zipf exponent %v: need a positive number", s)
	}

	var cdf []float64
	sum := 0.0
	for rank := 1; rank <= n; rank++ {
		if keep != nil && !keep(rank) {
			continue
		}
		sum += math.Pow(float64(rank), -s)
		cdf = append(cdf, sum)
	}
	if len(cdf) == 0 {
		return nil, fmt.Errorf("zipf over %d ranks keeps no rank", n)
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	cdf[len(cdf)-1] = 1
	return cdf, nil
}
