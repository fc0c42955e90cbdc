//go:build !unix

package faulttest_test

// killChild skips where there is no SIGKILL.
func killChild(string) strike {
	return func(r *run) error {
		r.t.Skip("killing a child process needs SIGKILL")
		return nil
	}
}
