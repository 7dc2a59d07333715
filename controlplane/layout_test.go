package controlplane

import (
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stateWith returns a state whose ready instances have the tenants of
// placement, with the origin of origins or OriginConfig.
func stateWith(placement map[string][]string, origins map[string]Origin) *State {
	st := newState()
	for name, tenants := range placement {
		origin := OriginConfig
		if o, ok := origins[name]; ok {
			origin = o
		}
		sorted := slices.Sorted(slices.Values(tenants))
		st.Instances[name] = &InstanceRecord{Name: name, Tenants: sorted, Phase: PhaseReady, Origin: origin}
	}
	return st
}

// plansOf turns "i1: a, b" style pairs into plans in the order given.
func plansOf(pairs ...any) []Plan {
	var out []Plan
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Plan{ID: pairs[i].(string), Components: []string{"app"}, Tenants: pairs[i+1].([]string)})
	}
	return out
}

// placementAfter returns the tenants of each instance once op has
// switched. An instance in op's layout gets its layout, any other its
// state's tenants, and a retired instance has no entry.
func placementAfter(st *State, op *Operation) map[string][]string {
	out := map[string][]string{}
	for name, r := range st.Instances {
		out[name] = slices.Clone(r.Tenants)
	}
	for name, tenants := range op.Layout {
		out[name] = slices.Clone(tenants)
	}
	for _, name := range op.Retire {
		delete(out, name)
	}
	for name, tenants := range out {
		slices.Sort(tenants)
		out[name] = tenants
	}
	return out
}

// instancesOf returns the instances that tenant is on in placement.
func instancesOf(placement map[string][]string, tenant string) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(placement)) {
		if slices.Contains(placement[name], tenant) {
			out = append(out, name)
		}
	}
	return out
}

func TestLayoutOpFirstStart(t *testing.T) {
	st := newState()
	next := plansOf("i1", []string{"globex", "acme"}, "i2", []string{"initech"})

	op := layoutOp(st, nil, next)

	assert.Equal(t, OpApply, op.Kind)
	assert.Equal(t, StepCreate, op.Step)
	assert.Equal(t, []string{"i1", "i2"}, op.Create)
	assert.Equal(t, map[string][]string{"i1": {"acme", "globex"}, "i2": {"initech"}}, op.Layout)
	assert.Empty(t, op.Before["i1"])
	assert.Empty(t, op.Before["i2"])
	assert.Equal(t, []string{"acme", "globex", "initech"}, op.Moved)
	assert.Empty(t, op.Retire)
	assert.Equal(t, []string{"i1", "i2"}, op.targets(), "every new instance is widened")
	assert.Contains(t, op.Reason, "create i1, i2")
}

func TestLayoutOpReloadMovesOneTenant(t *testing.T) {
	old := plansOf("i1", []string{"acme", "globex"}, "i2", []string{"initech"})
	next := plansOf("i1", []string{"acme"}, "i2", []string{"globex", "initech"})
	st := stateWith(map[string][]string{"i1": {"acme", "globex"}, "i2": {"initech"}}, nil)

	op := layoutOp(st, old, next)

	assert.Empty(t, op.Create)
	assert.Empty(t, op.Retire)
	assert.Equal(t, []string{"globex"}, op.Moved, "only the tenant the file moved")
	assert.Equal(t, map[string][]string{"i1": {"acme"}, "i2": {"globex", "initech"}}, op.Layout)
	assert.Equal(t, []string{"acme", "globex"}, op.Before["i1"])
	assert.Equal(t, []string{"initech"}, op.Before["i2"])
	assert.Equal(t, []string{"i2"}, op.targets())
	assert.Equal(t, []string{"i1"}, op.sources())
}

func TestLayoutOpUnchangedFileIsEmpty(t *testing.T) {
	old := plansOf("i1", []string{"acme", "globex"}, "i2", []string{"initech"})
	st := stateWith(map[string][]string{"i1": {"acme"}, "i2": {"initech"}, "i3": {"globex"}},
		map[string]Origin{"i3": OriginScaleOut})

	op := layoutOp(st, old, old)

	assert.Empty(t, op.Layout, "a reload without changes moves nothing, even where the autoscaler did")
	assert.Empty(t, op.Create)
	assert.Empty(t, op.Retire)
	assert.Empty(t, op.Moved)
}

func TestLayoutOpKeepsAutoscalerPlacement(t *testing.T) {
	// The autoscaler moved globex from i1 to i3. The file still lists it
	// on i1 and only adds hooli to i2.
	old := plansOf("i1", []string{"acme", "globex"}, "i2", []string{"initech"})
	next := plansOf("i1", []string{"acme", "globex"}, "i2", []string{"hooli", "initech"})
	st := stateWith(map[string][]string{"i1": {"acme"}, "i2": {"initech"}, "i3": {"globex"}},
		map[string]Origin{"i3": OriginScaleOut})

	op := layoutOp(st, old, next)
	after := placementAfter(st, op)

	assert.Equal(t, []string{"hooli"}, op.Moved)
	assert.Equal(t, []string{"i3"}, instancesOf(after, "globex"), "globex stays where the autoscaler put it")
	assert.Equal(t, []string{"i2"}, instancesOf(after, "hooli"))
	assert.NotContains(t, op.Layout, "i1", "i1 does not change")
	assert.NotContains(t, op.Layout, "i3", "i3 does not change")
	assert.Empty(t, op.Retire, "an instance the autoscaler created is not the file's to remove")
}

func TestLayoutOpFileMovesAutoscaledTenant(t *testing.T) {
	// The autoscaler moved globex to i3, and the file now moves it to i2,
	// which wins.
	old := plansOf("i1", []string{"acme", "globex"}, "i2", []string{"initech"})
	next := plansOf("i1", []string{"acme"}, "i2", []string{"globex", "initech"})
	st := stateWith(map[string][]string{"i1": {"acme"}, "i2": {"initech"}, "i3": {"globex"}},
		map[string]Origin{"i3": OriginScaleOut})

	op := layoutOp(st, old, next)
	after := placementAfter(st, op)

	assert.Equal(t, []string{"i2"}, instancesOf(after, "globex"))
	assert.Empty(t, after["i3"], "i3 loses globex")
	assert.Equal(t, []string{"i1"}, instancesOf(after, "acme"))
}

func TestLayoutOpRemovedTenantLosesPlacement(t *testing.T) {
	// globex is on i3, where the autoscaler moved it, when the file drops it.
	old := plansOf("i1", []string{"acme", "globex", "initech"})
	next := plansOf("i1", []string{"acme", "initech"})
	st := stateWith(map[string][]string{"i1": {"acme", "initech"}, "i3": {"globex"}},
		map[string]Origin{"i3": OriginScaleOut})

	op := layoutOp(st, old, next)
	after := placementAfter(st, op)

	assert.Empty(t, instancesOf(after, "globex"), "a tenant the file removed is on no instance")
	assert.Equal(t, []string{"i1"}, instancesOf(after, "acme"))
	assert.Equal(t, []string{"i1"}, instancesOf(after, "initech"))
	require.Contains(t, op.Layout, "i3", "i3 loses globex")
	assert.Empty(t, op.Layout["i3"])
	assert.Equal(t, []string{"globex"}, op.Before["i3"])
	assert.Empty(t, op.Retire)
}

func TestLayoutOpDroppedInstanceRetired(t *testing.T) {
	// A scale-in moved globex from a scale-out instance onto i2. The file
	// drops i2 and hooli, which was on i2, and still lists globex on i1.
	// i4 is new and comes after i1 in the file.
	old := plansOf("i1", []string{"acme", "globex"}, "i2", []string{"hooli", "initech"})
	next := plansOf("i1", []string{"acme", "globex"}, "i4", []string{"initech"})
	st := stateWith(map[string][]string{"i1": {"acme"}, "i2": {"globex", "hooli", "initech"}}, nil)

	op := layoutOp(st, old, next)
	after := placementAfter(st, op)

	assert.Equal(t, []string{"i2"}, op.Retire)
	assert.Equal(t, []string{"i4"}, op.Create)
	require.Contains(t, op.Layout, "i2")
	assert.Empty(t, op.Layout["i2"], "a retired instance keeps no tenant")
	assert.NotContains(t, after, "i2")
	assert.Equal(t, []string{"i1"}, instancesOf(after, "globex"), "the retired instance's tenant goes to the first remaining instance")
	assert.Equal(t, []string{"i4"}, instancesOf(after, "initech"), "the file moved initech to i4")
	assert.Empty(t, instancesOf(after, "hooli"), "a tenant the file removed is not placed again")
	assert.Equal(t, []string{"i1"}, instancesOf(after, "acme"))
	assert.Contains(t, op.Reason, "remove i2")
}

func TestLayoutOpDroppedInstanceFirstIsNew(t *testing.T) {
	// The first instance of the new file does not exist yet, but it still
	// takes the tenants left on the retired instance.
	old := plansOf("i1", []string{"acme"}, "i2", []string{"globex"})
	next := plansOf("i5", []string{"hooli"}, "i1", []string{"acme", "globex"})
	st := stateWith(map[string][]string{"i1": {"acme"}, "i2": {"globex", "initech"}}, nil)

	op := layoutOp(st, old, next)
	after := placementAfter(st, op)

	assert.Equal(t, []string{"i2"}, op.Retire)
	assert.Equal(t, []string{"i5"}, op.Create)
	assert.Equal(t, []string{"i1"}, instancesOf(after, "globex"), "the file moved globex to i1")
	assert.Equal(t, []string{"i5"}, instancesOf(after, "initech"), "a tenant the file never listed goes to the first instance")
	assert.Equal(t, []string{"i5"}, instancesOf(after, "hooli"))
}

func TestLayoutOpTenantOnTwoInstances(t *testing.T) {
	t.Run("first start", func(t *testing.T) {
		next := plansOf("i1", []string{"acme", "globex"}, "i2", []string{"acme"})

		op := layoutOp(newState(), nil, next)

		assert.Equal(t, map[string][]string{"i1": {"acme", "globex"}, "i2": {"acme"}}, op.Layout)
	})

	t.Run("reload", func(t *testing.T) {
		old := plansOf("i1", []string{"acme", "globex"}, "i2", []string{"initech"})
		next := plansOf("i1", []string{"acme", "globex"}, "i2", []string{"acme", "initech"})
		st := stateWith(map[string][]string{"i1": {"acme", "globex"}, "i2": {"initech"}}, nil)

		op := layoutOp(st, old, next)
		after := placementAfter(st, op)

		assert.Equal(t, []string{"i1", "i2"}, instancesOf(after, "acme"))
		assert.Equal(t, []string{"acme"}, op.Moved)
		assert.NotContains(t, op.Layout, "i1", "i1 keeps acme and does not change")
		require.Contains(t, op.Layout, "i2")
		assert.Equal(t, []string{"acme", "initech"}, op.Layout["i2"])
	})
}

func TestLayoutOpPlacesUnplacedTenant(t *testing.T) {
	// A tenant that the file lists unchanged but no instance has, such as
	// after a failed apply, is placed where the file lists it.
	old := plansOf("i1", []string{"acme", "globex"})
	st := stateWith(map[string][]string{"i1": {"acme"}}, nil)

	op := layoutOp(st, old, old)

	assert.Equal(t, []string{"globex"}, op.Moved)
	assert.Equal(t, []string{"acme", "globex"}, op.Layout["i1"])
}
