//go:build !race

package testutil

// RaceEnabled is true under -race, where sync.Pool drops items at random
// and allocation counts vary.
const RaceEnabled = false
