package monitor_test

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMonitorMemory measures the proportional set size of 20 monitors of
// idle containers (issue 5's bench figure, conmon's is ~0.36 MiB here) and
// fails past a loose bound that catches regressions.
func TestMonitorMemory(t *testing.T) {
	const n = 20
	var pids []int
	for i := 0; i < n; i++ {
		ct := running(t, nil)
		st, err := ct.c.Status(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, st.MonitorPid)
	}
	time.Sleep(500 * time.Millisecond) // settle: background GC, freed spans
	var pss, rss, private int
	for _, pid := range pids {
		m := smapsRollup(t, pid)
		pss += m["Pss"]
		rss += m["Rss"]
		private += m["Private_Clean"] + m["Private_Dirty"]
	}
	t.Logf("%d idle monitors: PSS %.0f KiB each (RSS %.0f KiB, private %.0f KiB)",
		n, float64(pss)/n, float64(rss)/n, float64(private)/n)
	if pss/n > 4096 {
		t.Errorf("monitor PSS %d KiB, over the 4 MiB regression bound", pss/n)
	}
}

// smapsRollup reads /proc/PID/smaps_rollup, in KiB.
func smapsRollup(t *testing.T, pid int) map[string]int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]int{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 3 && fields[2] == "kB" {
			v, _ := strconv.Atoi(fields[1])
			m[strings.TrimSuffix(fields[0], ":")] = v
		}
	}
	return m
}
