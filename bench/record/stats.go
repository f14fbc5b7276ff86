package main

import (
	"fmt"
	"slices"
)

// untraced is the overhead column of the container started without a recorder.
const untraced = "untraced"

// loopResult is one loop of the loop workload, in the form that it writes.
type loopResult struct {
	Name      string `json:"name"`
	Calls     int64  `json:"calls"`
	ElapsedNS int64  `json:"elapsed_ns"`
}

// overhead collects the nanoseconds per call of each loop in each column: untraced and one
// column per requested mechanism.
type overhead struct {
	columns []string
	loops   []string
	// samples maps column, then loop name, to one value per repeat.
	samples map[string]map[string][]float64
	// used maps a column to the mechanisms that its results named.
	used map[string][]string
	// rejected maps a column to the helper's error for its first run. Such a column has no
	// samples.
	rejected map[string]error
}

func newOverhead(columns []string) *overhead {
	return &overhead{
		columns: columns, samples: map[string]map[string][]float64{},
		used: map[string][]string{}, rejected: map[string]error{},
	}
}

// add stores one run's loops for column, and the mechanism that the result named.
func (o *overhead) add(column, used string, loops []loopResult) error {
	if len(loops) == 0 {
		return fmt.Errorf("%s run: the loop workload reported no loops", column)
	}
	if o.samples[column] == nil {
		o.samples[column] = map[string][]float64{}
	}
	for _, l := range loops {
		if l.Calls <= 0 || l.ElapsedNS <= 0 {
			return fmt.Errorf("%s run: loop %q reported %d calls in %d ns, want both above 0",
				column, l.Name, l.Calls, l.ElapsedNS)
		}
		if !slices.Contains(o.loops, l.Name) {
			o.loops = append(o.loops, l.Name)
		}
		o.samples[column][l.Name] = append(o.samples[column][l.Name], float64(l.ElapsedNS)/float64(l.Calls))
	}
	if used != "" && !slices.Contains(o.used[column], used) {
		o.used[column] = append(o.used[column], used)
	}
	return nil
}

// summary returns the median, minimum and maximum ns per call of loop in column, and false
// when there are no samples.
func (o *overhead) summary(column, loop string) (median, low, high float64, ok bool) {
	values := slices.Clone(o.samples[column][loop])
	if len(values) == 0 {
		return 0, 0, 0, false
	}
	slices.Sort(values)
	middle := len(values) / 2
	median = values[middle]
	if len(values)%2 == 0 {
		median = (values[middle-1] + values[middle]) / 2
	}
	return median, values[0], values[len(values)-1], true
}

// ratio returns the median of column divided by the untraced median, and false when either
// has no samples.
func (o *overhead) ratio(column, loop string) (float64, bool) {
	base, _, _, ok := o.summary(untraced, loop)
	if !ok || base <= 0 {
		return 0, false
	}
	median, _, _, ok := o.summary(column, loop)
	if !ok {
		return 0, false
	}
	return median / base, true
}

// runOrder returns the columns in the order of one repeat: each repeat starts one column
// later, so that no column always runs first, after the same neighbor or last.
func runOrder(columns []string, repeat int) []string {
	order := make([]string, 0, len(columns))
	for i := range columns {
		order = append(order, columns[(repeat+i)%len(columns)])
	}
	return order
}
