package testenv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// WaitStopped waits until every thread of process pid is stopped (state T in
// /proc/PID/task/*/stat), after a SIGSTOP. kill(2) only queues the signal: a thread running on
// another CPU goes on until it next enters the kernel, which on a loaded machine is long
// enough to answer a request the test expects to hang. It returns an error after timeout.
func WaitStopped(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		stopped, err := allStopped(pid)
		if err != nil {
			return err
		}
		if stopped {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testenv: process %d not stopped after %v", pid, timeout)
		}
		time.Sleep(time.Millisecond) // polling the kernel's view; there is nothing to wait on
	}
}

func allStopped(pid int) (bool, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false, fmt.Errorf("testenv: no threads of process %d in /proc: %v", pid, err)
	}
	for _, st := range tasks {
		b, err := os.ReadFile(st)
		if err != nil {
			continue // the thread exited
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			return false, fmt.Errorf("testenv: cannot parse %s", st)
		}
		if state := b[i+2]; state != 'T' && state != 't' {
			return false, nil
		}
	}
	return true, nil
}
