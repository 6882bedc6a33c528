package tollgatelambda_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRootModuleGraphHasNoLambda runs `GOWORK=off go list -m all` at the repository's root:
// aws-lambda-go belongs to this module only, so a user of Tollgate outside Lambda never gets
// it (its go line, MVS upgrades, vulnerability reports).
func TestRootModuleGraphHasNoLambda(t *testing.T) {
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
	if !strings.HasPrefix(string(out), "github.com/tollgate-go/tollgate") {
		t.Fatalf("go list -m all did not list the root module first:\n%s", out)
	}
	if strings.Contains(string(out), "github.com/aws/aws-lambda-go") {
		t.Fatalf("the root module graph has aws-lambda-go; it belongs in adapters/lambda/go.mod:\n%s", out)
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(gomod), "aws-lambda-go") {
		t.Fatal("the root go.mod mentions aws-lambda-go")
	}
}
