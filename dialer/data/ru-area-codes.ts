// Geographic (ABC) area codes of the Russian numbering plan (+7), by federal subject, with the IANA zone of the
// subject's capital.
//
// Provenance: the ABC (geographic) zones of the Russian numbering plan, "Российская система и план нумерации",
// whose registry Rossvyaz publishes as the open-data files ABC-3xx, ABC-4xx and ABC-8xx (number ranges with their
// operator and subject; DEF-9xx for mobile). This table was compiled by hand from that plan's list of zone codes
// per subject, not generated from those files, and was not re-checked here against their current edition;
// generating it from them is the way to cover district codes. Zones: IANA tzdata (zone1970.tab's comments name
// the subjects each Russian zone covers). The 85 subjects are those of the Russian numbering plan, in English.
//
// An entry's codes are 3 to 5 digits of the 10-digit national number; a lookup takes the longest code that
// matches, so a 5-digit code inside another subject's 3-digit zone (81853 Nenets AO inside 818 Arkhangelsk) wins.
// Regions with more than one zone get the capital's: Sakha (Yakutia) spans UTC+9 to UTC+11 (Yakutsk is +9).
// Codes 80x (free phone, premium) and 9xx (mobile, DEF) are not geographic and are not listed.

export interface AreaRegion {
  region: string
  zone: string
  codes: readonly string[]
}

export const RU_AREA_CODES: readonly AreaRegion[] = [
  // UTC+2
  { region: 'Kaliningrad Oblast', zone: 'Europe/Kaliningrad', codes: ['401'] },

  // UTC+3, Moscow time
  { region: 'Moscow', zone: 'Europe/Moscow', codes: ['495', '499'] },
  { region: 'Moscow Oblast', zone: 'Europe/Moscow', codes: ['496', '498'] },
  { region: 'Saint Petersburg', zone: 'Europe/Moscow', codes: ['812'] },
  { region: 'Leningrad Oblast', zone: 'Europe/Moscow', codes: ['813'] },
  { region: 'Pskov Oblast', zone: 'Europe/Moscow', codes: ['811'] },
  { region: 'Republic of Karelia', zone: 'Europe/Moscow', codes: ['814'] },
  { region: 'Murmansk Oblast', zone: 'Europe/Moscow', codes: ['815'] },
  { region: 'Novgorod Oblast', zone: 'Europe/Moscow', codes: ['816'] },
  { region: 'Vologda Oblast', zone: 'Europe/Moscow', codes: ['817', '820'] },
  { region: 'Arkhangelsk Oblast', zone: 'Europe/Moscow', codes: ['818'] },
  { region: 'Nenets Autonomous Okrug', zone: 'Europe/Moscow', codes: ['81853'] },
  { region: 'Komi Republic', zone: 'Europe/Moscow', codes: ['821'] },
  { region: 'Nizhny Novgorod Oblast', zone: 'Europe/Moscow', codes: ['831'] },
  { region: 'Kirov Oblast', zone: 'Europe/Kirov', codes: ['833'] },
  { region: 'Republic of Mordovia', zone: 'Europe/Moscow', codes: ['834'] },
  { region: 'Chuvash Republic', zone: 'Europe/Moscow', codes: ['835'] },
  { region: 'Mari El Republic', zone: 'Europe/Moscow', codes: ['836'] },
  { region: 'Penza Oblast', zone: 'Europe/Moscow', codes: ['841'] },
  { region: 'Republic of Tatarstan', zone: 'Europe/Moscow', codes: ['843', '855'] },
  { region: 'Volgograd Oblast', zone: 'Europe/Volgograd', codes: ['844'] },
  { region: 'Republic of Kalmykia', zone: 'Europe/Moscow', codes: ['847'] },
  { region: 'Krasnodar Krai', zone: 'Europe/Moscow', codes: ['861', '862'] },
  { region: 'Rostov Oblast', zone: 'Europe/Moscow', codes: ['863'] },
  { region: 'Stavropol Krai', zone: 'Europe/Moscow', codes: ['865', '879'] },
  { region: 'Kabardino-Balkar Republic', zone: 'Europe/Moscow', codes: ['866'] },
  { region: 'Republic of North Ossetia-Alania', zone: 'Europe/Moscow', codes: ['867'] },
  { region: 'Chechen Republic', zone: 'Europe/Moscow', codes: ['871'] },
  { region: 'Republic of Dagestan', zone: 'Europe/Moscow', codes: ['872'] },
  { region: 'Republic of Ingushetia', zone: 'Europe/Moscow', codes: ['873'] },
  { region: 'Republic of Adygea', zone: 'Europe/Moscow', codes: ['877'] },
  { region: 'Karachay-Cherkess Republic', zone: 'Europe/Moscow', codes: ['878'] },
  { region: 'Republic of Crimea', zone: 'Europe/Simferopol', codes: ['365'] },
  { region: 'Sevastopol', zone: 'Europe/Simferopol', codes: ['869'] },
  { region: 'Kursk Oblast', zone: 'Europe/Moscow', codes: ['471'] },
  { region: 'Belgorod Oblast', zone: 'Europe/Moscow', codes: ['472'] },
  { region: 'Voronezh Oblast', zone: 'Europe/Moscow', codes: ['473'] },
  { region: 'Lipetsk Oblast', zone: 'Europe/Moscow', codes: ['474'] },
  { region: 'Tambov Oblast', zone: 'Europe/Moscow', codes: ['475'] },
  { region: 'Smolensk Oblast', zone: 'Europe/Moscow', codes: ['481'] },
  { region: 'Tver Oblast', zone: 'Europe/Moscow', codes: ['482'] },
  { region: 'Bryansk Oblast', zone: 'Europe/Moscow', codes: ['483'] },
  { region: 'Kaluga Oblast', zone: 'Europe/Moscow', codes: ['484'] },
  { region: 'Yaroslavl Oblast', zone: 'Europe/Moscow', codes: ['485'] },
  { region: 'Oryol Oblast', zone: 'Europe/Moscow', codes: ['486'] },
  { region: 'Tula Oblast', zone: 'Europe/Moscow', codes: ['487'] },
  { region: 'Ryazan Oblast', zone: 'Europe/Moscow', codes: ['491'] },
  { region: 'Vladimir Oblast', zone: 'Europe/Moscow', codes: ['492'] },
  { region: 'Ivanovo Oblast', zone: 'Europe/Moscow', codes: ['493'] },
  { region: 'Kostroma Oblast', zone: 'Europe/Moscow', codes: ['494'] },

  // UTC+4
  { region: 'Samara Oblast', zone: 'Europe/Samara', codes: ['846', '848'] },
  { region: 'Udmurt Republic', zone: 'Europe/Samara', codes: ['341'] },
  { region: 'Ulyanovsk Oblast', zone: 'Europe/Ulyanovsk', codes: ['842'] },
  { region: 'Saratov Oblast', zone: 'Europe/Saratov', codes: ['845'] },
  { region: 'Astrakhan Oblast', zone: 'Europe/Astrakhan', codes: ['851'] },

  // UTC+5
  { region: 'Sverdlovsk Oblast', zone: 'Asia/Yekaterinburg', codes: ['343'] },
  { region: 'Perm Krai', zone: 'Asia/Yekaterinburg', codes: ['342'] },
  { region: 'Republic of Bashkortostan', zone: 'Asia/Yekaterinburg', codes: ['347'] },
  { region: 'Chelyabinsk Oblast', zone: 'Asia/Yekaterinburg', codes: ['351'] },
  { region: 'Kurgan Oblast', zone: 'Asia/Yekaterinburg', codes: ['352'] },
  { region: 'Orenburg Oblast', zone: 'Asia/Yekaterinburg', codes: ['353'] },
  { region: 'Tyumen Oblast', zone: 'Asia/Yekaterinburg', codes: ['345'] },
  { region: 'Khanty-Mansi Autonomous Okrug', zone: 'Asia/Yekaterinburg', codes: ['346'] },
  { region: 'Yamalo-Nenets Autonomous Okrug', zone: 'Asia/Yekaterinburg', codes: ['349'] },

  // UTC+6
  { region: 'Omsk Oblast', zone: 'Asia/Omsk', codes: ['381'] },

  // UTC+7
  { region: 'Novosibirsk Oblast', zone: 'Asia/Novosibirsk', codes: ['383'] },
  { region: 'Tomsk Oblast', zone: 'Asia/Tomsk', codes: ['382'] },
  { region: 'Kemerovo Oblast', zone: 'Asia/Novokuznetsk', codes: ['384'] },
  { region: 'Altai Krai', zone: 'Asia/Barnaul', codes: ['385'] },
  { region: 'Altai Republic', zone: 'Asia/Barnaul', codes: ['388'] },
  { region: 'Krasnoyarsk Krai', zone: 'Asia/Krasnoyarsk', codes: ['391'] },
  { region: 'Republic of Khakassia', zone: 'Asia/Krasnoyarsk', codes: ['390'] },
  { region: 'Tuva Republic', zone: 'Asia/Krasnoyarsk', codes: ['394'] },

  // UTC+8
  { region: 'Irkutsk Oblast', zone: 'Asia/Irkutsk', codes: ['395'] },
  { region: 'Republic of Buryatia', zone: 'Asia/Irkutsk', codes: ['301'] },

  // UTC+9
  { region: 'Zabaykalsky Krai', zone: 'Asia/Chita', codes: ['302'] },
  { region: 'Amur Oblast', zone: 'Asia/Yakutsk', codes: ['416'] },
  { region: 'Sakha Republic (Yakutia)', zone: 'Asia/Yakutsk', codes: ['411'] },

  // UTC+10
  { region: 'Primorsky Krai', zone: 'Asia/Vladivostok', codes: ['423'] },
  { region: 'Khabarovsk Krai', zone: 'Asia/Vladivostok', codes: ['421'] },
  { region: 'Jewish Autonomous Oblast', zone: 'Asia/Vladivostok', codes: ['426'] },

  // UTC+11
  { region: 'Magadan Oblast', zone: 'Asia/Magadan', codes: ['413'] },
  { region: 'Sakhalin Oblast', zone: 'Asia/Sakhalin', codes: ['424'] },

  // UTC+12
  { region: 'Kamchatka Krai', zone: 'Asia/Kamchatka', codes: ['415'] },
  { region: 'Chukotka Autonomous Okrug', zone: 'Asia/Anadyr', codes: ['427'] },
]

// Countries in one zone, by calling code (ITU codes are prefix-free, so the longest match is the only one).
// Countries with several zones (the US, Spain with the Canaries, Mongolia, ...) are left out on purpose.
export const SINGLE_ZONE_COUNTRIES: Readonly<Record<string, { country: string; zone: string }>> = {
  '30': { country: 'Greece', zone: 'Europe/Athens' },
  '31': { country: 'Netherlands', zone: 'Europe/Amsterdam' },
  '32': { country: 'Belgium', zone: 'Europe/Brussels' },
  '33': { country: 'France', zone: 'Europe/Paris' },
  '36': { country: 'Hungary', zone: 'Europe/Budapest' },
  '39': { country: 'Italy', zone: 'Europe/Rome' },
  '40': { country: 'Romania', zone: 'Europe/Bucharest' },
  '41': { country: 'Switzerland', zone: 'Europe/Zurich' },
  '43': { country: 'Austria', zone: 'Europe/Vienna' },
  '44': { country: 'United Kingdom', zone: 'Europe/London' },
  '45': { country: 'Denmark', zone: 'Europe/Copenhagen' },
  '46': { country: 'Sweden', zone: 'Europe/Stockholm' },
  '47': { country: 'Norway', zone: 'Europe/Oslo' },
  '48': { country: 'Poland', zone: 'Europe/Warsaw' },
  '49': { country: 'Germany', zone: 'Europe/Berlin' },
  '81': { country: 'Japan', zone: 'Asia/Tokyo' },
  '82': { country: 'South Korea', zone: 'Asia/Seoul' },
  '84': { country: 'Vietnam', zone: 'Asia/Ho_Chi_Minh' },
  '86': { country: 'China', zone: 'Asia/Shanghai' },
  '90': { country: 'Turkey', zone: 'Europe/Istanbul' },
  '91': { country: 'India', zone: 'Asia/Kolkata' },
  '353': { country: 'Ireland', zone: 'Europe/Dublin' },
  '358': { country: 'Finland', zone: 'Europe/Helsinki' },
  '359': { country: 'Bulgaria', zone: 'Europe/Sofia' },
  '370': { country: 'Lithuania', zone: 'Europe/Vilnius' },
  '371': { country: 'Latvia', zone: 'Europe/Riga' },
  '372': { country: 'Estonia', zone: 'Europe/Tallinn' },
  '373': { country: 'Moldova', zone: 'Europe/Chisinau' },
  '374': { country: 'Armenia', zone: 'Asia/Yerevan' },
  '375': { country: 'Belarus', zone: 'Europe/Minsk' },
  '380': { country: 'Ukraine', zone: 'Europe/Kyiv' },
  '381': { country: 'Serbia', zone: 'Europe/Belgrade' },
  '420': { country: 'Czechia', zone: 'Europe/Prague' },
  '421': { country: 'Slovakia', zone: 'Europe/Bratislava' },
  '971': { country: 'United Arab Emirates', zone: 'Asia/Dubai' },
  '972': { country: 'Israel', zone: 'Asia/Jerusalem' },
  '992': { country: 'Tajikistan', zone: 'Asia/Dushanbe' },
  '993': { country: 'Turkmenistan', zone: 'Asia/Ashgabat' },
  '994': { country: 'Azerbaijan', zone: 'Asia/Baku' },
  '995': { country: 'Georgia', zone: 'Asia/Tbilisi' },
  '996': { country: 'Kyrgyzstan', zone: 'Asia/Bishkek' },
  '998': { country: 'Uzbekistan', zone: 'Asia/Tashkent' },
}
