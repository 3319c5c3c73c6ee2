package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	composecli "github.com/compose-spec/compose-go/v2/cli"
)

// TestComposeFile loads compose.yaml with the Compose specification's own
// loader, so a file that `docker compose` would refuse fails here, and
// checks that it deploys scimd on PostgreSQL.
func TestComposeFile(t *testing.T) {
	path, err := filepath.Abs(filepath.Join("..", "..", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := composecli.NewProjectOptions([]string{path}, composecli.WithOsEnv, composecli.WithWorkingDirectory(filepath.Dir(path)))
	if err != nil {
		t.Fatalf("project options: %v", err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load compose.yaml: %v", err)
	}
	scimd, err := project.GetService("scimd")
	if err != nil {
		t.Fatalf("GetService(scimd) = %v, want a service", err)
	}
	if scimd.Build == nil {
		t.Errorf("scimd.build = nil, want the Dockerfile build")
	}
	db := scimd.Environment["SCIMD_DATABASE"]
	if db == nil || !strings.HasPrefix(*db, "postgres://") || !strings.Contains(*db, "@postgres:5432/") {
		t.Errorf("scimd SCIMD_DATABASE = %v, want a postgres:// URL to the postgres service", db)
	}
	if dep, ok := scimd.DependsOn["postgres"]; !ok || dep.Condition != "service_healthy" {
		t.Errorf("scimd depends_on postgres = %+v, want condition service_healthy", dep)
	}
	pg, err := project.GetService("postgres")
	if err != nil {
		t.Fatalf("GetService(postgres) = %v, want a service", err)
	}
	if pg.HealthCheck == nil {
		t.Errorf("postgres has no healthcheck; scimd's depends_on waits for it")
	}
	if len(scimd.Ports) != 1 || scimd.Ports[0].Target != 8080 {
		t.Errorf("scimd ports = %+v, want one mapping to 8080", scimd.Ports)
	}
}
