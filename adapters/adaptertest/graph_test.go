package adaptertest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// frameworks are the module path prefixes that must stay out of the root module's graph: a
// net/http user must not get them through Tollgate (their go lines, MVS upgrades and
// vulnerability reports would become the user's).
var frameworks = []string{
	"github.com/gin-gonic/",
	"github.com/gofiber/",
	"github.com/valyala/fasthttp",
	"github.com/labstack/echo",
	"github.com/aws/aws-lambda-go",        // adapters/lambda
	"go.opentelemetry.io/",                // observe
	"github.com/prometheus/client_golang", // observe
}

// TestRootModuleGraphHasNoFramework runs `GOWORK=off go list -m all` at the root: the
// adapters live in nested modules, so no framework may appear in the root's module graph.
func TestRootModuleGraphHasNoFramework(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the root module graph: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-m", "all")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("GOWORK=off go list -m all: %v\n%s", err, out)
	}
	mods := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(mods) == 0 || !strings.HasPrefix(mods[0], "github.com/tollgate-go/tollgate") {
		t.Fatalf("go list -m all did not list the root module first:\n%s", out)
	}
	for _, m := range mods {
		for _, f := range frameworks {
			if strings.HasPrefix(m, f) {
				t.Errorf("the root module graph has %q; framework dependencies belong in the adapter modules", m)
			}
		}
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frameworks {
		if strings.Contains(string(gomod), f) {
			t.Errorf("the root go.mod mentions %q", f)
		}
	}
}
