package reply

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// TestPolicyItemsManyPolicies: more distinct policies than a PolicyItems keeps, from several
// goroutines, each still rendered right (the map starts afresh; it never answers for another
// policy), and the map never holds more than maxPolicyItems.
func TestPolicyItemsManyPolicies(t *testing.T) {
	var items PolicyItems
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 6000; i++ {
				// One name, numbers that vary: only the whole policy identifies an item.
				p := core.NewFixedWindow(fmt.Sprintf("n%d", i%50), int64(i+1), time.Second)
				if got, want := string(items.appendItem(nil, &p)), fmt.Sprintf(`"n%d";q=%d;w=1`, i%50, i+1); got != want {
					t.Errorf("item = %s, want %s", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 2*maxPolicyItems; i++ {
		p := core.NewFixedWindow(fmt.Sprint(i), 1, time.Second)
		items.entry(&p)
		if n := len(*items.m.Load()); n > maxPolicyItems {
			t.Fatalf("%d items kept, want at most %d", n, maxPolicyItems)
		}
	}
	if p := core.NewFixedWindow("0", 1, time.Second); items.entry(&p) == nil || (*items.m.Load())["0"] == nil {
		t.Error("an entry was not kept")
	}
}
