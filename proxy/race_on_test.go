//go:build race

package proxy

// raceEnabled is true under -race, where sync.Pool drops items at random
// and allocation counts vary.
const raceEnabled = true
