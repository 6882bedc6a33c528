package dynamostore_test

import (
	"testing"

	"github.com/tollgate-go/tollgate/core/storetest"
)

func TestConformance(t *testing.T) {
	s := newStore(t, nil)
	storetest.Run(t, s, storetest.Options{})
}

func TestConformanceLeases(t *testing.T) {
	s := newStore(t, nil)
	storetest.RunConcurrency(t, s, storetest.Options{})
}

// TestConformanceAdjust is storetest's section for Adjust, the store primitive behind
// settling costs after the response and refunds, on dynalite.
func TestConformanceAdjust(t *testing.T) {
	s := newStore(t, nil)
	storetest.RunAdjust(t, s, storetest.Options{})
}
