package main

import "fmt"

type migrateCmd struct{}

// Run applies pending migrations.
func (m *migrateCmd) Run(e *env, c *cli) error {
	db, _, err := c.open(e, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(e.stdout, "database is up to date")
	return nil
}
