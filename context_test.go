package authcapture_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

type noExecutor struct{}

func (noExecutor) Capture(context.Context, authcapture.CaptureTask) error { return nil }
func (noExecutor) Void(_ context.Context, t authcapture.VoidTask) (int64, error) {
	return t.Amount, nil
}

// Every public method of Service and Scheduler that takes a context returns
// ErrInvalidArgument for a nil one, as http.NewRequestWithContext does,
// instead of panicking. The table is every such method, found by
// reflection, so a new method is covered as soon as it exists; each is
// called with a nil context and zero values for its other arguments.
func TestNilContextIsAnInvalidArgument(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sched, err := authcapture.NewScheduler(f.svc, noExecutor{}, nil)
	require.NoError(t, err)
	ctxType := reflect.TypeFor[context.Context]()
	tested := 0
	for _, recv := range []any{f.svc, sched} {
		v := reflect.ValueOf(recv)
		for i := 0; i < v.NumMethod(); i++ {
			m, mt := v.Method(i), v.Type().Method(i)
			if m.Type().NumIn() == 0 || m.Type().In(0) != ctxType {
				continue
			}
			name := v.Type().Elem().Name() + "." + mt.Name
			t.Run(name, func(t *testing.T) {
				args := []reflect.Value{reflect.Zero(ctxType)}
				for j := 1; j < m.Type().NumIn(); j++ {
					args = append(args, reflect.Zero(m.Type().In(j)))
				}
				var out []reflect.Value
				require.NotPanics(t, func() { out = m.Call(args) })
				err, _ := out[len(out)-1].Interface().(error)
				require.ErrorIs(t, err, authcapture.ErrInvalidArgument)
				var e *authcapture.Error
				require.ErrorAs(t, err, &e)
				assert.NotEmpty(t, e.Op)
				assert.Contains(t, err.Error(), "the context is nil")
			})
			tested++
		}
	}
	assert.GreaterOrEqual(t, tested, 15, "13 methods of Service, 2 of Scheduler at least")
	assert.Equal(t, 0, f.store.Len(), "nothing written")
}
