package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/scimd/scimd/internal/csvimport"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/plural"
	"github.com/scimd/scimd/scim"
)

// importChunk is how many rows one service call creates; an interrupted
// import stops between chunks, and the service commits whole users only.
const importChunk = 1000

type importCmd struct {
	Tenant string `required:"" help:"Tenant id."`
	File   string `arg:"" type:"existingfile" help:"A CSV file with a header row, or JSON Lines (.jsonl, .ndjson): one SCIM user document a line."`
	Format string `enum:",csv,jsonl" default:"" help:"csv or jsonl; default: from the file's extension."`
	DryRun bool   `name:"dry-run" help:"Check every row as the import would and write nothing."`
	Invite bool   `help:"Invite the rows without a password (status invited, user.invited) rather than create them live without one."`
}

// importRow is one user of the file: its input, or why it cannot be one.
type importRow = csvimport.Row

// Run imports the file: every row is read first (a file that cannot be
// read changes nothing), then the rows are created in chunks through the
// same rules as every other path (Service.CreateUsers). Refused rows are reported
// with their line and reason; existing emails are refused, so running a
// file again creates nobody twice. The exit status is non-zero when a row
// was refused or the import was interrupted.
func (c *importCmd) Run(e *env, cl *cli) error {
	format := c.Format
	if format == "" {
		format = "csv"
		switch strings.ToLower(filepath.Ext(c.File)) {
		case ".jsonl", ".ndjson":
			format = "jsonl"
		}
	}
	// Hashing uses every core; DefaultParams bounds the memory of each.
	cores := runtime.GOMAXPROCS(0)
	var open opener
	switch {
	case c.DryRun:
		open = cl.openCurrent
	case c.Invite:
		open = cl.openSealing // the invitations' links are sealed in the outbox
	default:
		open = cl.open
	}
	db, svc, err := open(e, password.NewHasher(password.DefaultParams(), cores, 4*cores))
	if err != nil {
		return err
	}
	defer db.Close()
	defs, err := svc.TenantAttributes(e.ctx, c.Tenant)
	if err != nil {
		return err
	}
	f, err := os.Open(c.File)
	if err != nil {
		return err
	}
	defer f.Close()
	var rows []importRow
	if format == "jsonl" {
		rows, err = readJSONLines(f, defs)
	} else {
		rows, err = csvimport.ReadCSV(f, csvimport.GroupResolver(e.ctx, svc, c.Tenant), defs)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.File, err)
	}
	var todo []*importRow
	for i := range rows {
		r := &rows[i]
		if c.Invite && r.In.Password == nil {
			r.In.Invite = true
		}
		if r.Err == nil {
			todo = append(todo, r)
		}
	}
	op := operator(e)
	done, interrupted := 0, false
	if c.DryRun {
		errs := svc.CheckNewUsers(e.ctx, op, c.Tenant, inputs(todo))
		for i, r := range todo {
			r.Err = errs[i]
		}
	} else {
		bar := newProgress(e.stderr, len(todo))
		for start := 0; start < len(todo); start += importChunk {
			if e.ctx.Err() != nil {
				interrupted = true
				for _, r := range todo[start:] {
					r.Err = errors.New("not imported: the import was interrupted")
				}
				break
			}
			chunk := todo[start:min(start+importChunk, len(todo))]
			// A chunk under way finishes: an interrupt stops the import
			// between chunks, so that no row is reported wrongly.
			_, errs := svc.CreateUsers(context.WithoutCancel(e.ctx), op, c.Tenant, inputs(chunk))
			for i, r := range chunk {
				if r.Err = errs[i]; r.Err == nil {
					done++
				}
			}
			bar.add(len(chunk))
		}
		bar.finish()
	}
	return c.report(e, rows, done, interrupted)
}

// report prints every refused row, then the summary.
func (c *importCmd) report(e *env, rows []importRow, done int, interrupted bool) error {
	refused := 0
	for _, r := range rows {
		if r.Err != nil {
			refused++
			fmt.Fprintf(e.stdout, "line %d: %s: %s\n", r.Line, r.Label, message(r.Err))
		}
	}
	switch {
	case c.DryRun:
		fmt.Fprintf(e.stdout, "dry run: %d of %s would be imported, %d refused; nothing was written\n", len(rows)-refused, plural.Count(len(rows), "row", "rows"), refused)
	default:
		fmt.Fprintf(e.stdout, "imported %d of %s, %d refused\n", done, plural.Count(len(rows), "row", "rows"), refused)
	}
	switch {
	case interrupted:
		return fmt.Errorf("interrupted after %s; the rows reported as not imported can be imported again", plural.Count(done, "user", "users"))
	case refused > 0:
		return fmt.Errorf("%s refused (listed above)", plural.Count(refused, "row", "rows"))
	}
	return nil
}

func inputs(rows []*importRow) []directory.UserInput {
	ins := make([]directory.UserInput, len(rows))
	for i, r := range rows {
		ins[i] = r.In
	}
	return ins
}

// maxJSONLine is the longest line of a JSON Lines file; a longer one is a
// refused row.
const maxJSONLine = 1 << 20

// readJSONLines reads one SCIM user document a line; blank lines are
// skipped. A line that is not a valid user is a refused row.
func readJSONLines(r io.Reader, defs []directory.AttributeDef) ([]importRow, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var rows []importRow
	for line := 1; ; line++ {
		text, tooLong, err := readLine(br, maxJSONLine)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		switch text = strings.TrimSpace(text); {
		case tooLong:
			rows = append(rows, importRow{Line: line, Err: fmt.Errorf("the line is longer than %d bytes", maxJSONLine)})
		case text != "":
			in, perr := scim.ParseUser([]byte(text), defs)
			row := importRow{Line: line, Label: in.User.UserName, In: in, Err: perr}
			if perr != nil {
				var named struct{ UserName string }
				_ = json.Unmarshal([]byte(text), &named) // a label for the report, if the line has one
				row.Label = named.UserName
			}
			rows = append(rows, row)
		}
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
	}
}

// readLine reads one line without its end; a line longer than limit is
// skipped whole and reported as tooLong. err is io.EOF at the last line.
func readLine(br *bufio.Reader, limit int) (text string, tooLong bool, err error) {
	var b strings.Builder
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if b.Len()+len(chunk) > limit+1 {
				tooLong = true
				b.Reset()
			} else {
				b.Write(chunk)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return b.String(), tooLong, err
		}
		return strings.TrimRight(b.String(), "\r\n"), tooLong, nil
	}
}

// progress shows how far an import is: a bar on a terminal, a line every
// few seconds otherwise.
type progress struct {
	bar   *progressbar.ProgressBar // nil: lines
	w     io.Writer
	total int
	done  int
	last  time.Time
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, last: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("rows"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *progress) add(n int) {
	p.done += n
	if p.bar != nil {
		_ = p.bar.Add(n) // a terminal that went away
		return
	}
	if time.Since(p.last) >= 5*time.Second {
		p.last = time.Now()
		fmt.Fprintf(p.w, "import: %d of %s\n", p.done, plural.Count(p.total, "row", "rows"))
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
