package controlplane

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bucket and key names of the state database.
var (
	bucketState     = []byte("state")
	bucketJournal   = []byte("journal")
	bucketDecisions = []byte("decisions")
	keyCurrent      = []byte("current")
)

// journalLimit and decisionLimit bound the entries kept of each kind; the
// oldest are dropped first.
const (
	journalLimit  = 1000
	decisionLimit = 1000
)

// DB persists the control plane's state, a journal of every operation step
// and the recent decisions in one bbolt file. bbolt gives atomic, fsynced
// transactions and a file lock that keeps a second DFLB from running on
// the same state, which a plain file would have to build by hand.
type DB struct {
	bolt *bolt.DB
	path string
}

// OpenDB opens or creates the database at path. It fails after a second
// when another process holds the file.
func OpenDB(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating directory of state database %s: %w", path, err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("state database %s is in use: stop the dflb that runs with this data directory, or pass another -data-dir", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening state database %s: %w", path, err)
	}

	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketState, bucketJournal, bucketDecisions} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("initialising state database %s: %w", path, err)
	}
	return &DB{bolt: b, path: path}, nil
}

// Close closes the database file.
func (d *DB) Close() error {
	return d.bolt.Close()
}

// Path returns the file name of the database.
func (d *DB) Path() string { return d.path }

// LoadState returns the saved state, or nil when none was saved.
func (d *DB) LoadState() (*State, error) {
	var st *State
	err := d.bolt.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketState).Get(keyCurrent)
		if data == nil {
			return nil
		}
		st = newState()
		return json.Unmarshal(data, st)
	})
	if err != nil {
		return nil, fmt.Errorf("reading state from %s: %w", d.path, err)
	}
	if st != nil && st.Instances == nil {
		st.Instances = map[string]*InstanceRecord{}
	}
	return st, nil
}

// SaveState stores st and, when op is not nil, appends op as it is now to
// the journal, in one transaction.
func (d *DB) SaveState(st *State, op *Operation) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	err = d.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketState).Put(keyCurrent, data); err != nil {
			return err
		}
		if op == nil {
			return nil
		}
		return appendBounded(tx.Bucket(bucketJournal), op, journalLimit)
	})
	if err != nil {
		return fmt.Errorf("writing state to %s: %w", d.path, err)
	}
	return nil
}

// AppendDecision stores one decision, dropping the oldest past the limit.
func (d *DB) AppendDecision(dec Decision) error {
	err := d.bolt.Update(func(tx *bolt.Tx) error {
		return appendBounded(tx.Bucket(bucketDecisions), dec, decisionLimit)
	})
	if err != nil {
		return fmt.Errorf("writing decision to %s: %w", d.path, err)
	}
	return nil
}

// Decisions returns up to n of the most recent decisions, oldest first.
func (d *DB) Decisions(n int) ([]Decision, error) {
	var out []Decision
	err := d.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDecisions).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			var dec Decision
			if err := json.Unmarshal(v, &dec); err != nil {
				return fmt.Errorf("decision %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, dec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading decisions from %s: %w", d.path, err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Journal returns every journaled operation step, oldest first.
func (d *DB) Journal() ([]Operation, error) {
	var out []Operation
	err := d.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJournal).ForEach(func(_, v []byte) error {
			var op Operation
			if err := json.Unmarshal(v, &op); err != nil {
				return err
			}
			out = append(out, op)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading journal from %s: %w", d.path, err)
	}
	return out, nil
}

// appendBounded stores v as JSON under the bucket's next sequence number
// and deletes the oldest entries beyond limit.
func appendBounded(b *bolt.Bucket, v any, limit int) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], seq)
	if err := b.Put(key[:], data); err != nil {
		return err
	}

	// Every append drops the one entry that falls out of the limit, so the
	// bucket never holds more than limit entries.
	if seq <= uint64(limit) {
		return nil
	}
	binary.BigEndian.PutUint64(key[:], seq-uint64(limit))
	if err := b.Delete(key[:]); err != nil {
		return err
	}
	return nil
}
