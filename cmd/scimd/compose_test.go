package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	composecli "github.com/compose-spec/compose-go/v2/cli"

	"github.com/scimd/scimd/internal/secretbox"
)

// TestComposeFile loads compose.yaml with the Compose specification's own
// loader, so a file that `docker compose` would refuse fails here, and
// checks that it deploys two scimd replicas on PostgreSQL behind a load
// balancer.
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
	if scimd.Deploy == nil || scimd.Deploy.Replicas == nil || *scimd.Deploy.Replicas != 2 {
		t.Errorf("scimd deploy = %+v, want 2 replicas", scimd.Deploy)
	}
	if len(scimd.Ports) != 0 {
		t.Errorf("scimd ports = %+v, want none: clients reach the replicas through the load balancer", scimd.Ports)
	}
	lb, err := project.GetService("lb")
	if err != nil {
		t.Fatalf("GetService(lb) = %v, want the load balancer", err)
	}
	if len(lb.Ports) != 1 || lb.Ports[0].Target != 8080 {
		t.Errorf("lb ports = %+v, want one mapping to 8080", lb.Ports)
	}
	if len(lb.Configs) != 1 || lb.Configs[0].Target != "/etc/caddy/Caddyfile" {
		t.Fatalf("lb configs = %+v, want the Caddyfile", lb.Configs)
	}
	caddyfile := project.Configs[lb.Configs[0].Source].Content
	for _, want := range []string{"reverse_proxy", "name scimd", "port 8080", "lb_policy cookie scimd_replica", "unhealthy_status 503"} {
		if !strings.Contains(caddyfile, want) {
			t.Errorf("the Caddyfile lacks %q:\n%s", want, caddyfile)
		}
	}
	// The invitation emails go to Mailpit.
	mailpit, err := project.GetService("mailpit")
	if err != nil {
		t.Fatalf("GetService(mailpit) = %v, want the SMTP catcher", err)
	}
	if host := scimd.Environment["SCIMD_SMTP_HOST"]; host == nil || *host != "mailpit" {
		t.Errorf("scimd SCIMD_SMTP_HOST = %v, want mailpit", host)
	}
	if port := scimd.Environment["SCIMD_SMTP_PORT"]; port == nil || *port != "1025" {
		t.Errorf("scimd SCIMD_SMTP_PORT = %v, want Mailpit's 1025", port)
	}
	if len(mailpit.Ports) != 1 || mailpit.Ports[0].Target != 8025 {
		t.Errorf("mailpit ports = %+v, want its web interface 8025", mailpit.Ports)
	}
	if key := scimd.Environment["SCIMD_SECRET_KEY"]; key == nil {
		t.Errorf("scimd has no SCIMD_SECRET_KEY")
	} else if _, err := secretbox.ParseKey(*key); err != nil {
		t.Errorf("scimd SCIMD_SECRET_KEY: %v", err)
	}
}
