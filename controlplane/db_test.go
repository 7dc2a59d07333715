package controlplane

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openTestDB opens a state database in a new temporary directory and
// closes it when the test ends.
func openTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := OpenDB(filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// sampleState returns a state with two instances, both cooldown times set
// and an operation in progress, every field filled.
func sampleState() *State {
	created := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	op := &Operation{
		ID:       42,
		Kind:     OpScaleOut,
		Step:     StepSwitch,
		Create:   []string{"i3"},
		Layout:   map[string][]string{"i1": {"acme"}, "i3": {"globex", "initech"}},
		Before:   map[string][]string{"i1": {"acme", "globex", "initech"}, "i3": nil},
		Moved:    []string{"globex", "initech"},
		Graceful: true,
		Observed: "rate over 100 req/s for 10s",
		Reason:   "move globex, initech to new instance i3",
		Started:  created.Add(time.Hour),
		Switched: created.Add(time.Hour + time.Minute),
		Error:    "starting components on i3: timed out",
	}
	return &State{
		Instances: map[string]*InstanceRecord{
			"i1": {
				Name: "i1", ProviderID: "p-1", Address: "127.0.89.1", DFMURL: "http://127.0.89.1:7070",
				Components: map[string]string{"app": "127.0.89.1:9001"},
				Tenants:    []string{"acme", "globex", "initech"}, Guests: []string{"umbrella"},
				Phase: PhaseReady, Origin: OriginConfig, Created: created, Changed: created.Add(30 * time.Minute),
			},
			"i3": {
				Name: "i3", Tenants: []string{}, Phase: PhaseCreating, Origin: OriginScaleOut,
				Created: created.Add(time.Hour), Changed: created.Add(time.Hour),
			},
		},
		NextSeq:      4,
		LastScaleOut: created.Add(-10 * time.Minute),
		LastScaleIn:  created.Add(-20 * time.Minute),
		Op:           op,
	}
}

func TestDBStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := OpenDB(path)
	require.NoError(t, err)
	want := sampleState()

	require.NoError(t, db.SaveState(want, want.Op))
	got, err := db.LoadState()
	require.NoError(t, err)
	assert.Equal(t, want, got, "state read back in the same process")

	require.NoError(t, db.Close())
	db, err = OpenDB(path)
	require.NoError(t, err)
	defer db.Close()

	got, err = db.LoadState()
	require.NoError(t, err)
	assert.Equal(t, want, got, "state read back after reopening the file")
	assert.True(t, got.LastScaleOut.Equal(want.LastScaleOut), "LastScaleOut %s", got.LastScaleOut)
	assert.True(t, got.LastScaleIn.Equal(want.LastScaleIn), "LastScaleIn %s", got.LastScaleIn)
	require.NotNil(t, got.Op)
	assert.Equal(t, want.Op.Layout, got.Op.Layout)

	journal, err := db.Journal()
	require.NoError(t, err)
	require.Len(t, journal, 1)
	assert.Equal(t, *want.Op, journal[0])
}

func TestDBLoadStateEmpty(t *testing.T) {
	db := openTestDB(t)

	st, err := db.LoadState()

	require.NoError(t, err)
	assert.Nil(t, st, "a new database has no saved state")
}

func TestDBSaveWithoutOpSkipsJournal(t *testing.T) {
	db := openTestDB(t)
	st := sampleState()

	require.NoError(t, db.SaveState(st, nil))
	require.NoError(t, db.SaveState(st, st.Op))
	require.NoError(t, db.SaveState(st, nil))

	journal, err := db.Journal()
	require.NoError(t, err)
	assert.Len(t, journal, 1, "only the save with an operation is journaled")
}

func TestDBJournalBounded(t *testing.T) {
	db := openTestDB(t)
	st := newState()
	total := journalLimit + 5

	for i := 1; i <= total; i++ {
		require.NoError(t, db.SaveState(st, &Operation{ID: uint64(i), Kind: OpApply, Step: StepCreate}))
	}

	journal, err := db.Journal()
	require.NoError(t, err)
	require.Len(t, journal, journalLimit)
	assert.Equal(t, uint64(6), journal[0].ID, "the five oldest entries are dropped")
	assert.Equal(t, uint64(total), journal[len(journal)-1].ID, "the newest entry is kept")
	for i := 1; i < len(journal); i++ {
		if !assert.Equal(t, journal[i-1].ID+1, journal[i].ID, "journal out of order at %d", i) {
			break
		}
	}
}

func TestDBDecisionsBounded(t *testing.T) {
	db := openTestDB(t)
	total := decisionLimit + 5
	start := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)

	for i := 1; i <= total; i++ {
		require.NoError(t, db.AppendDecision(Decision{Time: start.Add(time.Duration(i) * time.Second), Kind: "wait", Op: uint64(i)}))
	}

	recent, err := db.Decisions(10)
	require.NoError(t, err)
	require.Len(t, recent, 10)
	assert.Equal(t, uint64(total-9), recent[0].Op, "oldest of the ten most recent first")
	assert.Equal(t, uint64(total), recent[9].Op, "newest last")
	assert.True(t, recent[0].Time.Before(recent[9].Time))

	all, err := db.Decisions(decisionLimit + 100)
	require.NoError(t, err)
	require.Len(t, all, decisionLimit, "no more than decisionLimit decisions are kept")
	assert.Equal(t, uint64(6), all[0].Op, "the five oldest decisions are dropped")
	assert.Equal(t, uint64(total), all[len(all)-1].Op)

	none, err := db.Decisions(0)
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestOpenDBInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	first, err := OpenDB(path)
	require.NoError(t, err)

	started := time.Now()
	second, err := OpenDB(path)
	elapsed := time.Since(started)

	require.Error(t, err)
	assert.Nil(t, second)
	assert.Contains(t, err.Error(), "state database "+path+" is in use")
	assert.Less(t, elapsed, 2500*time.Millisecond, "the second open must fail after about a second")

	require.NoError(t, first.Close())
	third, err := OpenDB(path)
	require.NoError(t, err, "the file opens once the first holder closed it")
	require.NoError(t, third.Close())
}
