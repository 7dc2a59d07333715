package strictyaml

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

type item struct {
	Name    string
	Ratio   float64
	Codes   []int
	Env     map[string]string
	Timeout time.Duration
}

func decodeItems(t *testing.T, text string) ([]item, *Decoder) {
	t.Helper()
	root, err := ReadDocument([]byte(text), "test.yaml")
	require.NoError(t, err)
	require.NotNil(t, root)
	d := NewDecoder("test.yaml")
	var items []item
	d.Mapping("", root, Field{Key: "items", Decode: func(path string, n *yaml.Node) {
		d.Sequence(path, n, func(itemPath string, n *yaml.Node) {
			var it item
			d.Label(itemPath, "item")
			d.Mapping(itemPath, n,
				Field{Key: "name", Decode: d.String(&it.Name)},
				Field{Key: "ratio", Decode: d.Float(&it.Ratio)},
				Field{Key: "codes", Decode: d.IntList(&it.Codes)},
				Field{Key: "env", Decode: d.StringMap(&it.Env)},
				Field{Key: "timeout", Decode: d.Duration(&it.Timeout)},
			)
			items = append(items, it)
		})
	}})
	return items, d
}

func TestDecodeValues(t *testing.T) {
	items, d := decodeItems(t, "items:\n  - name: a\n    ratio: 1\n    codes: [2, 3]\n    env: {K: v}\n    timeout: 1m\n")
	require.NoError(t, d.Err())
	assert.Equal(t, []item{{Name: "a", Ratio: 1, Codes: []int{2, 3}, Env: map[string]string{"K": "v"}, Timeout: time.Minute}}, items)
	assert.Equal(t, 5, d.Lines().LineOf("items[0].env.K"))
	assert.Equal(t, 2, d.Lines().LineOf("items[0].missing"))
}

func TestDecodeErrorsCarryLabelAndLine(t *testing.T) {
	_, d := decodeItems(t, "items:\n  - name: a\n    ratio: high\n    codes: [x]\n    env: {K: v, K: w}\n    nme: b\n")
	err := d.Err()
	require.Error(t, err)
	for _, want := range []string{
		`test.yaml:3: items[0].ratio (item): invalid number "high"`,
		`test.yaml:4: items[0].codes[0] (item): invalid integer "x"`,
		`test.yaml:5: items[0].env.K (item): key is already set at line 5`,
		`test.yaml:6: unknown key "nme" in items[0] (item); valid keys are name, ratio, codes, env, timeout`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestReadDocument(t *testing.T) {
	root, err := ReadDocument([]byte("# only a comment\n"), "a.yaml")
	assert.NoError(t, err)
	assert.Nil(t, root)

	_, err = ReadDocument([]byte("a: 1\n---\nb: 2\n"), "a.yaml")
	assert.ErrorContains(t, err, "a.yaml:2: a second YAML document starts here")

	_, err = ReadDocument([]byte("a: [1\n"), "a.yaml")
	assert.ErrorContains(t, err, "a.yaml: invalid YAML")
}

func TestLinesErrorfWithoutFile(t *testing.T) {
	var l Lines
	assert.EqualError(t, l.Errorf("a.b", "bad %d", 1), "a.b: bad 1")
	assert.Equal(t, "a.b", l.Describe("a.b"))
}
