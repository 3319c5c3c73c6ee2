package password

import (
	"bytes"
	"compress/gzip"
	_ "embed" // for the blocklist
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
)

// blocklistGz is the list of common passwords, one lower-case password a
// line, most common first, gzip-compressed. BLOCKLIST.md says where it comes
// from.
//
//go:embed blocklist.txt.gz
var blocklistGz []byte

// sortedList is a set of strings kept in little memory: the sorted members
// concatenated in data, member i ending at ends[i] and starting where member
// i-1 ends. For the 100,000 entries of the blocklist it takes about 1.1 MiB,
// where a []string takes 2.3 MiB and a map 4.1 MiB.
type sortedList struct {
	data string
	ends []uint32
}

// newSortedList returns the set of members, which may be in any order and
// repeat.
func newSortedList(members []string) *sortedList {
	slices.Sort(members)
	members = slices.Compact(members)
	var b strings.Builder
	ends := make([]uint32, len(members))
	for i, m := range members {
		b.WriteString(m)
		ends[i] = uint32(b.Len())
	}
	return &sortedList{data: b.String(), ends: ends}
}

// len returns the number of members.
func (l *sortedList) len() int { return len(l.ends) }

// at returns member i.
func (l *sortedList) at(i int) string {
	start := uint32(0)
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.data[start:l.ends[i]]
}

// contains reports whether s is a member.
func (l *sortedList) contains(s string) bool {
	_, found := sort.Find(l.len(), func(i int) int { return strings.Compare(s, l.at(i)) })
	return found
}

// loadBlocklist decompresses the embedded list once, on first use, and puts
// each entry in the form Check compares (see foldKey).
var loadBlocklist = sync.OnceValue(func() *sortedList {
	r, err := gzip.NewReader(bytes.NewReader(blocklistGz))
	if err != nil {
		panic("password: read embedded blocklist: " + err.Error())
	}
	text, err := io.ReadAll(r)
	if err != nil {
		panic("password: read embedded blocklist: " + err.Error())
	}
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	for i, l := range lines {
		lines[i] = foldKey(l)
	}
	return newSortedList(lines)
})

// blocked reports whether key, a normalised lower-case password, is on the
// blocklist.
func blocked(key string) bool {
	return loadBlocklist().contains(key)
}
