// Replays the I-94 weather columns (data/metro_traffic/weather_hourly.csv) one row per hour
// as requests through a Monitor, with injected feature-pipeline faults: the low-rate
// validation of docs/guide.md, "Low-rate streams".
#pragma once

#include <vigil/monitor/monitor.hpp>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "vigil_test.hpp"

namespace metro {

struct Hour {
  double time = 0;  // Unix seconds of the local hour, read as UTC
  double temp = std::nan("");  // kelvin
  double clouds = std::nan("");
  double rain = std::nan("");
  std::string weather;
  bool empty = false;  // a gap in the source: no request that hour
};

inline double parse_time(const std::string& text) {
  std::tm tm{};
  if (std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6)
    throw std::runtime_error("bad time " + text);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm));
}

inline std::vector<Hour> read_hours() {
  std::ifstream in(vigil_test::source_path("data/metro_traffic/weather_hourly.csv"));
  std::string line;
  std::getline(in, line);  // header
  std::vector<Hour> hours;
  while (std::getline(in, line)) {
    std::stringstream cells(line);
    std::string time, temp, clouds, rain, weather;
    std::getline(cells, time, ',');
    std::getline(cells, temp, ',');
    std::getline(cells, clouds, ',');
    std::getline(cells, rain, ',');
    std::getline(cells, weather, ',');
    Hour h;
    h.time = parse_time(time);
    h.empty = temp.empty();
    if (!h.empty) {
      h.temp = std::stod(temp);
      h.clouds = std::stod(clouds);
      h.rain = std::stod(rain);
      h.weather = weather;
    }
    hours.push_back(h);
  }
  return hours;
}

/// A fault injected for a day: the temperature arrives in °C instead of kelvin, the cloud
/// cover column is empty, or the weather labels arrive lowercased.
enum class Fault { none, celsius, empty_clouds, lowercase_weather };

inline const char* name(Fault f) {
  switch (f) {
    case Fault::none: return "none";
    case Fault::celsius: return "temp in degrees C";
    case Fault::empty_clouds: return "clouds_all empty";
    case Fault::lowercase_weather: return "weather_main lowercased";
  }
  return "?";
}

struct Stream {
  vigil::Schema schema;
  vigil::NumericFeature temp, clouds, rain;
  vigil::CategoricalFeature weather;

  Stream() {
    temp = schema.add_numeric("temp");
    clouds = schema.add_numeric("clouds_all");
    rain = schema.add_numeric("rain_1h");
    weather = schema.add_categorical("weather_main");
  }

  void fill(vigil::Observation& o, const Hour& h, Fault fault) const {
    o.clear();
    o.at(h.time);
    o.set(temp, fault == Fault::celsius ? h.temp - 273.15 : h.temp);
    if (fault != Fault::empty_clouds) o.set(clouds, h.clouds);
    o.set(rain, h.rain);
    std::string label = h.weather;
    if (fault == Fault::lowercase_weather)
      for (char& c : label) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    o.set(weather, label);
  }

  /// The training profile: hours [first, last) of the file.
  vigil::Profile profile(const std::vector<Hour>& hours, std::size_t first, std::size_t last) const {
    vigil::Profile p(schema);
    vigil::Observation o(schema);
    for (std::size_t i = first; i < last; ++i) {
      if (hours[i].empty) continue;
      fill(o, hours[i], Fault::none);
      p.add(o);
    }
    return p;
  }
};

/// The options docs/guide.md recommends for a stream of about one request an hour.
inline vigil::MonitorOptions low_rate_options() {
  vigil::MonitorOptions o;
  o.interval = 3600;
  o.fine_intervals = 24 * 9;
  o.coarse_interval = 86400;
  o.coarse_intervals = 30;
  o.background = 7 * 86400;
  o.long_horizon = 7 * 86400;
  o.evaluate_in_observe = true;
  o.alerts.min_requests = 24;
  return o;
}

/// Every alert transition of replaying hours [first, last), with `fault` applied to the
/// hours in [fault_start, fault_end).
inline std::vector<vigil::Alert> replay(const Stream& stream, const vigil::Profile& profile,
                                        const vigil::MonitorOptions& options, const std::vector<Hour>& hours,
                                        std::size_t first, std::size_t last, Fault fault = Fault::none,
                                        double fault_start = 0, double fault_end = 0) {
  vigil::Monitor monitor(stream.schema, profile, options);
  std::vector<vigil::Alert> alerts;
  monitor.on_alert([&](const vigil::Alert& a) { alerts.push_back(a); });
  vigil::Observation o(stream.schema);
  for (std::size_t i = first; i < last; ++i) {
    const Hour& h = hours[i];
    if (h.empty) continue;
    stream.fill(o, h, h.time >= fault_start && h.time < fault_end ? fault : Fault::none);
    monitor.observe(o);
  }
  monitor.report(hours[last - 1].time + 3600);
  return alerts;
}

}  // namespace metro
