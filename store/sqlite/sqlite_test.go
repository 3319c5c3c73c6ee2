package sqlite_test

import (
	"testing"

	"github.com/scimd/scimd/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.SQLiteHarness())
}
