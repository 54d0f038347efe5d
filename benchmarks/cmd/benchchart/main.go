// Command benchchart draws the paired ratios of a benchrun results file as
// a PNG: for each workload and server, a bar from 1 to the median ratio of
// the server's figure (CPU per request; idle: RSS per connection) to gnet's
// in one panel and to the C floor's in the other, on a log scale, with a
// whisker over the range of the rounds.
//
//	benchchart -o results/x.png results/x.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log"
	"math"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// results is the part of benchrun's JSON the chart needs.
type results struct {
	Name        string   `json:"name"`
	Mode        string   `json:"mode"`
	ServerOrder []string `json:"server_order"`
	Workloads   []struct {
		Name string `json:"name"`
	} `json:"workloads"`
	Summary []struct {
		Workload string  `json:"workload"`
		Server   string  `json:"server"`
		VsGnet   *spread `json:"vs_gnet"`
		VsFloor  *spread `json:"vs_floor"`
	} `json:"summary"`
}

type spread struct {
	Median, Min, Max float64
	N                int
}

// row is one bar line of the chart; a workload heading has no server.
type row struct {
	workload, server string
	ratio            [2]*spread // ÷ gnet, ÷ C floor
}

// Layout, in pixels.
const (
	rowH     = 17
	labelW   = 150
	panelW   = 520
	gap      = 40
	top      = 70
	bottom   = 50
	margin   = 16
	charW    = 7
	ascent   = 10
	maxLog2  = 10 // clamp ratios to [2^-10, 2^10] for the axis
	minSpanL = 1  // at least 2^-1..2^1 around 1
)

var (
	white  = color.RGBA{255, 255, 255, 255}
	black  = color.RGBA{20, 20, 20, 255}
	grid   = color.RGBA{225, 225, 225, 255}
	axis1  = color.RGBA{90, 90, 90, 255}
	stripe = color.RGBA{246, 246, 250, 255}
	// palette colours the servers in table order; evio, first, stands out.
	palette = []color.RGBA{
		{230, 85, 13, 255}, {49, 130, 189, 255}, {116, 196, 118, 255}, {158, 154, 200, 255},
		{253, 174, 107, 255}, {107, 174, 214, 255}, {161, 217, 155, 255}, {188, 189, 220, 255}, {150, 150, 150, 255},
	}
)

func main() {
	out := flag.String("o", "", "PNG file to write (default: the JSON file's name with .png)")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: benchchart [-o chart.png] results.json")
	}
	in := flag.Arg(0)
	b, err := os.ReadFile(in)
	if err != nil {
		log.Fatal(err)
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		log.Fatal(err)
	}
	if *out == "" {
		*out = in[:len(in)-len(".json")] + ".png"
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, draw1(&res)); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func rows(res *results) []row {
	var rs []row
	for _, w := range res.Workloads {
		rs = append(rs, row{workload: w.Name})
		for _, name := range res.ServerOrder {
			for _, s := range res.Summary {
				if s.Workload == w.Name && s.Server == name {
					rs = append(rs, row{workload: w.Name, server: name, ratio: [2]*spread{s.VsGnet, s.VsFloor}})
				}
			}
		}
	}
	return rs
}

// axisRange returns the log2 bounds of a panel: whole powers of two that
// hold every whisker, at least 1/2..2, at most 2^±maxLog2.
func axisRange(rs []row, panel int) (lo, hi int) {
	lo, hi = -minSpanL, minSpanL
	for _, r := range rs {
		if s := r.ratio[panel]; s != nil && s.Min > 0 {
			lo = min(lo, int(math.Floor(math.Log2(s.Min))))
			hi = max(hi, int(math.Ceil(math.Log2(s.Max))))
		}
	}
	return max(lo, -maxLog2), min(hi, maxLog2)
}

func draw1(res *results) image.Image {
	rs := rows(res)
	width := margin + labelW + 2*panelW + gap + margin
	height := top + len(rs)*rowH + bottom
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)

	title := fmt.Sprintf("evio benchmarks %s: paired ratios, median of the rounds (whiskers: min-max), log scale; below 1 is cheaper", res.Name)
	text(img, margin, 20, title, black)
	text(img, margin, 38, "CPU per request (idle: RSS per connection) of each server over gnet's and over the C floor's, measured in the same round", axis1)
	if res.Mode == "quick" {
		text(img, margin, 56, "QUICK MODE: smoke run, noisy - not a comparison", palette[0])
	}

	colour := map[string]color.RGBA{}
	for i, s := range res.ServerOrder {
		colour[s] = palette[min(i, len(palette)-1)]
	}
	// Zebra stripes per workload, then each panel.
	for i, r := range rs {
		y := top + i*rowH
		if r.server == "" {
			fill(img, margin, y, width-margin, y+rowH, stripe)
			text(img, margin+2, y+ascent+3, r.workload, black)
		} else {
			fill(img, margin+12, y+4, margin+22, y+rowH-4, colour[r.server]) // the bars' colour
			text(img, margin+28, y+ascent+3, r.server, black)
		}
	}
	for panel, name := range []string{"server / gnet", "server / C floor"} {
		x0 := margin + labelW + panel*(panelW+gap)
		lo, hi := axisRange(rs, panel)
		xOf := func(v float64) int {
			l := math.Log2(v)
			l = math.Max(float64(lo), math.Min(float64(hi), l))
			return x0 + int((l-float64(lo))/float64(hi-lo)*float64(panelW))
		}
		text(img, x0+panelW/2-len(name)*charW/2, top-6, name, black)
		// Grid lines and tick labels at powers of two.
		for e := lo; e <= hi; e++ {
			x := xOf(math.Exp2(float64(e)))
			c := grid
			if e == 0 {
				c = axis1
			}
			fill(img, x, top, x+1, top+len(rs)*rowH, c)
			label := tickLabel(e)
			text(img, x-len(label)*charW/2, top+len(rs)*rowH+16, label, axis1)
		}
		one := xOf(1)
		for i, r := range rs {
			s := r.ratio[panel]
			if r.server == "" || s == nil || s.Median <= 0 {
				continue
			}
			y := top + i*rowH
			xm := xOf(s.Median)
			fill(img, min(one, xm), y+3, max(one, xm)+1, y+rowH-3, colour[r.server])
			// Whisker over the rounds' range.
			if s.N > 1 {
				fill(img, xOf(s.Min), y+rowH/2, xOf(s.Max)+1, y+rowH/2+1, black)
				fill(img, xOf(s.Min), y+5, xOf(s.Min)+1, y+rowH-5, black)
				fill(img, xOf(s.Max), y+5, xOf(s.Max)+1, y+rowH-5, black)
			}
			v := fmt.Sprintf("%.2f", s.Median)
			tx := max(xm, xOf(s.Max)) + 4
			if s.Median < 1 {
				tx = min(xm, xOf(s.Min)) - 4 - len(v)*charW
			}
			text(img, tx, y+ascent+3, v, black)
		}
	}
	return img
}

func tickLabel(e int) string {
	if e >= 0 {
		return fmt.Sprintf("%g", math.Exp2(float64(e)))
	}
	return fmt.Sprintf("1/%g", math.Exp2(float64(-e)))
}

func fill(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	draw.Draw(img, image.Rect(x0, y0, x1, y1), &image.Uniform{c}, image.Point{}, draw.Src)
}

func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: &image.Uniform{c}, Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
