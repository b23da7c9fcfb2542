package engine_test

import (
	"sync"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// portRules counts the rules of chain "ports" in table (family inet),
// -1 when the table does not exist.
func portRules(t *testing.T, table string) int {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range tables {
		found = found || x.Name == table
	}
	if !found {
		return -1
	}
	rules, err := c.GetRules(tbl, &nftables.Chain{Name: "ports", Table: tbl})
	if err != nil {
		t.Fatalf("list rules of %s: %v", table, err)
	}
	return len(rules)
}

// deleteTable removes table, as if the kernel had lost it.
func deleteTable(t *testing.T, table string) {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	c.DelTable(&nftables.Table{Name: table, Family: nftables.TableFamilyINet})
	if err := c.Flush(); err != nil {
		t.Fatalf("delete table %s: %v", table, err)
	}
}

var echoBin struct {
	once sync.Once
	path string
	err  error
}

// echoBinary is the echo server, built once.
func echoBinary(t *testing.T) string {
	t.Helper()
	echoBin.once.Do(func() {
		echoBin.path, echoBin.err = goBuild("github.com/corral-dev/corral/testutil/nettopo/echoserver", "echo", "")
	})
	if echoBin.err != nil {
		t.Fatal(echoBin.err)
	}
	return echoBin.path
}

// deleteLink removes link name from the sandbox.
func deleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkDel(l)
	}
	return err
}
